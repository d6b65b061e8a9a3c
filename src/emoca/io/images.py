"""Robust image input: any file Pillow can decode becomes an 8-bit RGB array, upright.

EXIF orientation is applied. Grey, grey+alpha, palette, CMYK, YCbCr, LAB, 16-bit and float images
become 8-bit RGB; alpha is dropped (composited over white, as a viewer would show a transparent PNG on
paper). Anything that cannot be decoded raises `InputError` naming the file and the reason.
"""

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from emoca.errors import InputError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
MIN_SIDE = 16  # pixels; smaller images cannot hold a detectable face


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # high bit depth grey: rescale to 8 bits
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = np.clip(values / top * 255 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def load_image(path: str | Path) -> np.ndarray:
    """Decode `path` to an upright (H, W, 3) uint8 RGB array.

    Raises:
        InputError: missing, empty, truncated or undecodable files, and images under 16 px a side.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a folder, not an image")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                rgb = _to_rgb(ImageOps.exif_transpose(image))
    except UnidentifiedImageError:
        raise InputError(path, "not an image Pillow can decode") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise InputError(path, f"cannot decode image ({error})") from None
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise InputError(path, f"image is {rgb.shape[1]}x{rgb.shape[0]} px, too small for a face "
                               f"(at least {MIN_SIDE} px a side)")
    return np.ascontiguousarray(rgb)


def expand_inputs(inputs: list[str | Path], suffixes: frozenset[str] = IMAGE_SUFFIXES
                  ) -> Iterator[Path | InputError]:
    """Files and folders -> input paths: folders are walked recursively in sorted order; files in them
    without one of `suffixes` come out as `InputError`s (reported and skipped by callers); a path that
    does not exist is an `InputError` too. Files named directly are passed on, whatever their suffix."""
    for item in inputs:
        path = Path(item)
        if not path.exists():
            yield InputError(path, "no such file or folder")
        elif path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in suffixes:
                    yield child
                else:
                    yield InputError(child, "not an image file (skipped)")
        else:
            yield path
