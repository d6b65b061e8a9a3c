"""2D affine maps as (2, 3) matrices: p' = A[:, :2] @ p + A[:, 2]."""

import numpy as np


def square_transform(centre: np.ndarray, side: float, angle: float, size: int) -> np.ndarray:
    """(2, 3) affine map from input pixels to a `size`-px crop: a square of `side` input pixels about
    `centre`, rotated by `angle` radians (so that a line at `angle` becomes horizontal)."""
    scale = size / side
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    matrix = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]])
    matrix[:, 2] = (size - 1) / 2 - matrix[:, :2] @ centre
    return matrix


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine map."""
    linear = np.linalg.inv(matrix[:, :2])
    return np.concatenate([linear, -linear @ matrix[:, 2:]], 1)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(2, 3) affine map applied to (N, 2) points."""
    return points @ matrix[:, :2].T + matrix[:, 2]
