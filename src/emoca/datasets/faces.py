"""The in-memory face set the emotion trainer reads, whatever the source data set."""

from dataclasses import dataclass

import numpy as np


@dataclass
class FaceSet:
    """images: (N, S, S) uint8 grey faces. targets: (N, 8) float32 class distributions over
    `emoca.nets.emotion.EMOTIONS`. labels: (N,) int64 majority class. va: optional (N, 2) float32
    valence, arousal in [-1, 1] (NaN where unlabelled)."""

    images: np.ndarray
    targets: np.ndarray
    labels: np.ndarray
    va: np.ndarray | None = None
