"""Where the `mediapipe` wheel keeps its TFLite models, found without importing mediapipe.

Importing `mediapipe` also imports its drawing utilities and matplotlib (about 0.8 s here); the
detector and the direct landmark models only need the files, which they run through ai-edge-litert.
"""

import importlib.util
from pathlib import Path

from emoca.errors import InputError


def mediapipe_modules() -> Path:
    """The wheel's `mediapipe/modules` folder. Raises `InputError` when mediapipe is not installed."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("mediapipe", "not installed: run `make setup` (its wheel holds the face models)")
    return Path(list(spec.submodule_search_locations)[0]) / "modules"
