"""The small trained heads' weight files: fp16 safetensors whose metadata values are JSON (config,
sizes, training figures), written atomically; reading one names the file and how to retrain it."""

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from emoca.errors import InputError
from emoca.io.atomic import atomic_path


def save_weights(module: nn.Module, path: Path, metadata: dict) -> None:
    """fp16 safetensors of `module`'s state, `metadata` values as JSON, written atomically."""
    state = {k: (v.detach().half() if v.is_floating_point() else v.detach()).contiguous()
             for k, v in module.state_dict().items()}
    with atomic_path(Path(path)) as tmp:
        save_file(state, str(tmp), metadata={k: json.dumps(v) for k, v in metadata.items()})


def read_weights(path: Path, retrain: str) -> tuple[dict[str, torch.Tensor], dict]:
    """(fp32 state, metadata) of a file written by `save_weights`.

    Raises:
        InputError: missing or unreadable, ending with `retrain` (how to make the file again).
    """
    if not Path(path).is_file():
        raise InputError(path, f"weights file missing; {retrain}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = {k: json.loads(v) for k, v in (handle.metadata() or {}).items()}
            state = {k: handle.get_tensor(k) for k in handle.keys()}
    except (OSError, ValueError, json.JSONDecodeError, SafetensorError) as error:
        raise InputError(path, f"not a readable weights file ({error}); {retrain}") from None
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, metadata
