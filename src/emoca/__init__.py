"""emoca: CPU-first EMOCA, emotion-driven monocular 3D face capture and animation.

The public surface is small: `reconstruct(image) -> list[Face]` (the whole pipeline, `emoca.pipeline`),
`load_model()` for the face model, and the `emoca` command line.
"""

import os

# OpenMP threads waiting for work spin for a shorter while before they sleep (GNU OpenMP, which torch's
# wheels use), unless the user chose otherwise; set before torch loads it. Measured here (2 cores, single
# runs): two `emoca reconstruct` processes of 3 London photos at once were each 2.97x slower than one
# alone with the default spin, 1.64x with 20,000, 1.03x with no spin (OMP_WAIT_POLICY=PASSIVE); the
# sample video with the regressor took 56.4 s, 66.6 s and 78.5 s: 20,000 keeps most of both.
os.environ.setdefault("GOMP_SPINCOUNT", "20000")
# torch (2.13) makes its inductor cache folder in the temporary folder as soon as an optimiser is built (the
# fitter builds one per stage); keep it with our caches, so `emoca serve` and every command leave the
# temporary folder as they found it.
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR",
                      os.path.join(os.path.expanduser("~"), ".cache", "emoca", "torchinductor"))

from emoca.facemodel import load_model  # noqa: E402

__all__ = ["load_model", "reconstruct"]
__version__ = "0.1.0"


def reconstruct(image):
    """Every face of one photo ((H, W, 3) uint8 RGB or a path) with the default reconstructor (ICT, CPU,
    loaded on the first call): a list of `emoca.pipeline.photo.Face`, best detection first."""
    from emoca.pipeline.photo import reconstruct as run

    return run(image)
