"""Writing images: float tensors in [0, 1] to 8-bit PNG/JPEG, atomically."""

from io import BytesIO
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from emoca.io.atomic import write_with_atomic


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) or (H, W, 3) float tensor in [0, 1] -> (H, W, 3) uint8 (clipped, rounded)."""
    array = image.detach().cpu().float()
    if array.dim() == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.permute(1, 2, 0)
    return (array.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)


PNG_LEVEL = 3  # zlib level: half the encoding time of Pillow's default 6 for 11% more bytes (an overlay here)


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 (H, W, 3) array as the bytes of a PNG file (for embedding, e.g. in a GLB)."""
    buffer = BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=PNG_LEVEL)
    return buffer.getvalue()


def save_image(path: str | Path, image: torch.Tensor | np.ndarray) -> None:
    """Save a float tensor (see `to_uint8`) or a uint8 (H, W, 3) array; the format follows the suffix."""
    array = image if isinstance(image, np.ndarray) else to_uint8(image)
    options = {"compress_level": PNG_LEVEL} if Path(path).suffix.lower() == ".png" else {}
    write_with_atomic(path, lambda tmp: Image.fromarray(array).save(tmp, **options))
