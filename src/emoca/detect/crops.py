"""DECA-style square face crops from 68 landmarks, with the exact transform back to input pixels.

DECA's rule: the landmarks' bounding box gives a centre and a size (mean of width and height); the crop
is the axis-aligned square of `scale` x that size about the centre, resampled to `size` x `size`.
"""

from dataclasses import dataclass

import cv2
import numpy as np

CROP_SIZE = 224  # px: the side of the face crops the networks, the fitter and the decoder work on


@dataclass
class CropConfig:
    """scale: crop side over the landmarks' box size (DECA: 1.25). size: output side in pixels."""

    scale: float = 1.25
    size: int = CROP_SIZE


@dataclass
class FaceCrops:
    """images: (F, size, size, 3) uint8. to_input: (F, 2, 3) affine maps from crop pixels to input
    pixels (both with 0 at the centre of the top-left pixel): p_input = A @ [x, y, 1]."""

    images: np.ndarray
    to_input: np.ndarray


def crop_transforms(landmarks: np.ndarray, config: CropConfig) -> np.ndarray:
    """(F, 68, 2) input-pixel landmarks -> (F, 2, 3) crop-to-input affine maps."""
    low, high = landmarks.min(1), landmarks.max(1)
    centre = (low + high) / 2
    side = (high - low).mean(1) * config.scale
    step = side / config.size  # input pixels per crop pixel
    to_input = np.zeros((len(landmarks), 2, 3))
    to_input[:, 0, 0] = to_input[:, 1, 1] = step
    to_input[:, :, 2] = centre - step[:, None] * (config.size - 1) / 2
    return to_input


def crop_faces(image: np.ndarray, landmarks: np.ndarray, config: CropConfig | None = None) -> FaceCrops:
    """Square crops of every face of one (H, W, 3) uint8 image from its (F, 68, 2) landmarks; pixels
    outside the image are black."""
    config = config or CropConfig()
    to_input = crop_transforms(np.asarray(landmarks, np.float64).reshape(-1, 68, 2), config)
    crops = np.zeros((len(to_input), config.size, config.size, 3), np.uint8)
    for i, matrix in enumerate(to_input):
        crops[i] = cv2.warpAffine(image, matrix, (config.size, config.size),
                                  flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)
    return FaceCrops(crops, to_input)
