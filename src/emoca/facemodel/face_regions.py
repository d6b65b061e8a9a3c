"""Appearance regions of the ICT render mesh (per-vertex masks): eyes (sclera, iris) and lips.

ICT-FaceKit has no lip region and no iris texture, so both come from geometry: the iris is the cap of
each eyeball within `IRIS_HALF_ANGLE` of its forward (+z) axis; the lips are the face vertices inside
the outer lip contour of the learned MediaPipe landmark embedding (seen from the front, within 1.5 cm
of the contour's depth).
"""

import numpy as np
import torch
from matplotlib.path import Path as PolygonPath

from emoca.facemodel.ict import ICTFaceModel

IRIS_HALF_ANGLE = 0.55  # radians about the eyeball's forward (+z) axis
# MediaPipe's outer lip contour, in order around the mouth.
OUTER_LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
LIP_DEPTH_CM = 1.5


def eye_masks(model: ICTFaceModel) -> tuple[torch.Tensor, torch.Tensor]:
    """(V,) bool masks: sclera and iris of both eyeballs (neutral gaze)."""
    sclera = torch.zeros(model.n_vertices, dtype=torch.bool)
    iris = torch.zeros(model.n_vertices, dtype=torch.bool)
    for side in ("left", "right"):
        mask = model.regions[f"eyeball_{side}"]
        direction = torch.nn.functional.normalize(model.template[mask] - getattr(model, f"eye_centre_{side}"), dim=-1)
        front = direction[:, 2] > np.cos(IRIS_HALF_ANGLE)
        iris[mask] = front
        sclera[mask] = ~front
    return sclera, iris


def lip_mask(model: ICTFaceModel) -> torch.Tensor:
    """(V,) bool: the lips (needs the landmark embedding)."""
    contour = model.surface_landmarks(model.template[None], "dense")[0, list(OUTER_LIPS)].numpy()
    template = model.template.numpy()
    inside = PolygonPath(contour[:, :2]).contains_points(template[:, :2])
    near = np.abs(template[:, 2] - contour[:, 2].mean()) < LIP_DEPTH_CM
    return torch.from_numpy(inside & near & model.regions["face"].numpy())
