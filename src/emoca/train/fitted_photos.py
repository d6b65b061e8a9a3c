"""What the learners of fitted data files share: detect and crop one face per photo, fit them in batches.

Used by `emoca.train.expression_correctives`, `emoca.train.jaw_offsets` and `emoca.train.ibug_embedding`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from emoca.datasets.helen import nme
from emoca.detect.pipeline import FaceLandmarks
from emoca.face_params import FaceParams
from emoca.io.images import load_image
from emoca.pipeline.photo import Reconstructor
from emoca.targets import FaceTargets

BATCH = 10


@dataclass
class CroppedFace:
    """One photo's chosen face: `position` in the input list and its targets (a batch of one)."""

    position: int
    targets: FaceTargets

    @property
    def to_input(self) -> np.ndarray:
        """(2, 3) the crop-to-input map."""
        return self.targets.to_input[0]


def crop_photos(reconstructor: Reconstructor, paths: list[Path],
                choose: Callable[[int, list[FaceLandmarks]], FaceLandmarks] | None = None) -> list[CroppedFace]:
    """Detect, choose one face per photo (`choose(position, faces)`, default the best detection) and crop
    it; photos without a face are left out."""
    cropped = []
    for position, path in enumerate(paths):
        image = load_image(path)
        faces = reconstructor.landmarker(image)
        if faces:
            face = choose(position, faces) if choose else faces[0]
            cropped.append(CroppedFace(position, reconstructor.targets(image, [face])))
    return cropped


def nearest_to(annotations: list[np.ndarray]) -> Callable[[int, list[FaceLandmarks]], FaceLandmarks]:
    """A `choose` for `crop_photos`: the detection nearest (NME) to each photo's (68, 2) annotation."""
    return lambda position, faces: min(faces, key=lambda face: nme(face.landmarks_68, annotations[position]))


def fit_in_batches(reconstructor: Reconstructor, faces: list[CroppedFace], identity: torch.Tensor | None = None,
                   batch: int = BATCH) -> FaceParams:
    """The reconstructor's predictions for `faces`, `batch` at a time (CPU tensors, in order); `identity`:
    (K,) keep this identity fixed (e.g. the mean face)."""
    parts = [reconstructor.predictor.predict(FaceTargets.concat([face.targets for face in faces[start:start + batch]]),
                                             identity=identity)
             for start in range(0, len(faces), batch)]
    return FaceParams.concat(parts)
