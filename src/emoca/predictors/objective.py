"""The self-supervised reconstruction terms on a decoded face, shared by fitting and training.

Landmarks (478 dense points, the inner 68 points, the jawline contour), eye and lip closure and the
masked photometric error, all read from a `Decoded` (`emoca.decode`) and the detections of a `FaceTargets`
(`emoca.targets`). Landmark terms are in units of the detected outer-eye-corner distance, so they do not
depend on the crop's size or the face's size in it.
"""

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from emoca.decode.decoder import Decoded
from emoca.decode.jaw_contour import JAW
from emoca.facemodel.landmark_sets import (
    IBUG_EYE_PAIRS,
    IBUG_LIP_PAIRS,
    MEDIAPIPE_EYE_PAIRS,
    MEDIAPIPE_LIP_PAIRS,
    outer_eye_distance,
)
from emoca.losses.closure import closure_loss
from emoca.losses.landmarks import landmark_loss
from emoca.losses.photometric import photometric_loss
from emoca.targets import FaceTargets

# MediaPipe's face oval, in order: the photometric loss only looks inside it.
FACE_OVAL = (10, 109, 67, 103, 54, 21, 162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400,
             378, 379, 365, 397, 288, 361, 323, 454, 356, 389, 251, 284, 332, 297, 338)
CLOSURE_PAIRS = {"dense": [*MEDIAPIPE_EYE_PAIRS["right"], *MEDIAPIPE_EYE_PAIRS["left"], *MEDIAPIPE_LIP_PAIRS],
                 "ibug": [*IBUG_EYE_PAIRS["right"], *IBUG_EYE_PAIRS["left"], *IBUG_LIP_PAIRS]}


@dataclass
class LandmarkWeights:
    """Weights of the landmark terms (each a mean distance in eye-corner distances). The fitter's values
    were set on every 8th HELEN trainset photo (fitted-mesh NME)."""

    dense: float = 0.5
    ibug: float = 5.0
    contour: float = 3.0
    closure: float = 1.0


def landmark_losses(decoded: Decoded, targets: FaceTargets, weights: LandmarkWeights, contour: bool = True
                    ) -> dict[str, torch.Tensor]:
    """(B,) terms "dense" (when the model has MediaPipe's embedding), "ibug" (points 17-67) and, with
    `contour`, "contour" (the jawline, 0-16) and "closure" (lid and lip openings)."""
    size = targets.images.shape[-1]
    eye = outer_eye_distance(targets.landmarks_68) / size
    losses = {}
    if decoded.dense is not None:  # a model without MediaPipe's embedding (FLAME) fits the 68 points only
        dense, dense_target = decoded.dense / size, targets.dense / size
        losses["dense"] = weights.dense * landmark_loss(dense, dense_target, scale=eye)
    ibug, ibug_target = decoded.landmarks_68 / size, targets.landmarks_68 / size
    inner = torch.ones(68, device=ibug.device)
    inner[JAW] = 0
    losses["ibug"] = weights.ibug * landmark_loss(ibug, ibug_target, inner, scale=eye)
    if not contour:
        return losses
    losses["contour"] = weights.contour * landmark_loss(ibug[:, JAW], ibug_target[:, JAW], scale=eye)
    closure = closure_loss(ibug, ibug_target, CLOSURE_PAIRS["ibug"], scale=eye)
    if decoded.dense is not None:
        closure = closure_loss(dense, dense_target, CLOSURE_PAIRS["dense"], scale=eye) + closure
    losses["closure"] = weights.closure * closure
    return losses


def oval_mask(dense: np.ndarray, size: int) -> np.ndarray:
    """(478, 2) crop-pixel points -> (size, size) float mask of the face oval."""
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(dense[list(FACE_OVAL)] * 16).astype(np.int32)], 1, shift=4)
    return mask.astype(np.float32)


@dataclass
class PhotometricTargets:
    """The photos and face-oval masks at the render size: photo (B, 3, S, S) in [0, 1], mask (B, 1, S, S)."""

    photo: torch.Tensor
    mask: torch.Tensor

    @classmethod
    def of(cls, targets: FaceTargets, size: int) -> "PhotometricTargets":
        """The crops of `targets` resized (antialiased) to `size`, and the oval of their dense points."""
        photo = F.interpolate(targets.images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        ratio = size / targets.images.shape[-1]
        mask = torch.from_numpy(np.stack([oval_mask(d * ratio + (ratio - 1) / 2, size)
                                          for d in targets.dense.cpu().numpy()]))[:, None]
        return cls(photo, mask.to(photo.device))


def photometric_term(rendered: torch.Tensor, photometric: PhotometricTargets) -> torch.Tensor:
    """(B,) the robust photometric error of (B, 3, S, S) renders inside the face ovals."""
    return photometric_loss(rendered, photometric.photo, photometric.mask)
