"""Robust image input: any file Pillow can decode becomes an 8-bit RGB array, upright.

EXIF orientation is applied. Grey, grey+alpha, palette, CMYK, YCbCr, LAB, 16-bit and float images
become 8-bit RGB; alpha is dropped (composited over white, as a viewer would show a transparent PNG on
paper). Anything that cannot be decoded raises `InputError` naming the file and the reason.
"""

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from emoca.errors import InputError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
MIN_SIDE = 16  # pixels; smaller images cannot hold a detectable face
MAX_ASPECT = 20  # longest side / shortest side; a strip thinner than this holds no face the detectors find


@dataclass
class ImageLimits:
    """max_megapixels: images declaring more pixels are refused before decoding (a 200-megapixel RGB photo
    takes 600 MB decoded; a decompression bomb declares far more). `emoca ... --max-megapixels` sets it."""

    max_megapixels: float = 200.0


limits = ImageLimits()
"""The process's limits (the command line sets them once, before any input is read)."""


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # high bit depth grey: rescale to 8 bits
        values = np.asarray(image, dtype=np.float64)
        peak = float(np.nanmax(values)) if values.size else 0.0
        if image.mode == "F" and peak <= 1.0:  # float images in [0, 1]
            top = 1.0
        else:
            top = 65535.0 if image.mode.startswith("I;16") or peak > 255 else 255.0
        values = np.nan_to_num(values)
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
    return _decode(path, path, limits.max_megapixels)


def image_from_bytes(data: bytes, name: str | Path, max_megapixels: float | None = None) -> np.ndarray:
    """Decode an encoded image held in memory (a JPEG or PNG a client sent) as `load_image` decodes a
    file; errors name `name`; `max_megapixels`: a tighter limit than the process's (a live frame).

    Raises:
        InputError: empty, undecodable, too large or too small.
    """
    if not data:
        raise InputError(name, "empty image (0 bytes)")
    return _decode(BytesIO(data), Path(name), max_megapixels or limits.max_megapixels)


def _decode(source: Path | BytesIO, path: Path, max_megapixels: float) -> np.ndarray:
    """(H, W, 3) uint8 RGB of `source` (a file or bytes) of at most `max_megapixels`; errors name `path`."""
    pillow_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # `limits` below replaces Pillow's
    try:
        with warnings.catch_warnings():  # Pillow warns of corrupt tags it skips: the result is the answer
            warnings.simplefilter("ignore")
            with Image.open(source) as image:
                width, height = image.size
                if width * height > max_megapixels * 1e6:
                    hint = " (raise it with --max-megapixels)" if max_megapixels == limits.max_megapixels else ""
                    raise InputError(path, f"image is {width}x{height} px ({width * height / 1e6:.1f} megapixels), "
                                           f"above the limit of {max_megapixels:g}{hint}")
                if max(width, height) > MAX_ASPECT * min(width, height):
                    raise InputError(path, f"image is {width}x{height} px, too elongated to hold a face "
                                           f"(sides more than {MAX_ASPECT}:1)")
                image.load()
                rgb = _to_rgb(ImageOps.exif_transpose(image))
    except UnidentifiedImageError:
        raise InputError(path, "not an image Pillow can decode") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise InputError(path, f"cannot decode image ({error})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise InputError(path, f"image is {rgb.shape[1]}x{rgb.shape[0]} px, too small for a face "
                               f"(at least {MIN_SIDE} px a side)")
    return np.ascontiguousarray(rgb)


@dataclass(frozen=True)
class InputFile:
    """One input: its path, and `name`, where its outputs go under `--out`: the path relative to the
    folder it was found in, without the suffix (`neutral/001` for `london/neutral/001.jpg` when `london`
    was given), or the file's stem when the file was named directly."""

    path: Path
    name: str


def expand_inputs(inputs: list[str | Path], suffixes: frozenset[str] = IMAGE_SUFFIXES
                  ) -> Iterator[InputFile | InputError]:
    """Files and folders -> `InputFile`s: folders are walked recursively in sorted order; files in them
    without one of `suffixes` come out as `InputError`s (reported and skipped by callers), and so do
    broken or looping symbolic links, a path that does not exist and a folder with no files at all.
    Files named directly are passed on, whatever their suffix."""
    for item in inputs:
        path = Path(item)
        if not path.exists():
            yield InputError(path, "no such file or folder" + (" (a broken or looping symbolic link)"
                                                              if path.is_symlink() else ""))
        elif path.is_dir():
            found = False
            for child in sorted(path.rglob("*")):
                if child.is_symlink() and not child.exists():
                    yield InputError(child, "a broken or looping symbolic link (skipped)")
                elif child.is_file():
                    found = True
                    yield (InputFile(child, child.relative_to(path).with_suffix("").as_posix())
                           if child.suffix.lower() in suffixes else InputError(child, "not an image file (skipped)"))
            if not found:
                yield InputError(path, "a folder with no files in it")
        else:
            yield InputFile(path, path.stem)
