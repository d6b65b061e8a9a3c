"""Appearance regions of a face model's render mesh (per-vertex masks): eyes (sclera, iris) and lips.

Neither ICT-FaceKit nor FLAME labels lips or irises, so both come from geometry: the iris is the cap of
each eyeball (`regions["eyeball_left"/"eyeball_right"]`) within `IRIS_HALF_ANGLE` of its forward (+z)
axis; the lips are the face vertices inside the outer lip contour of the landmark embedding
(MediaPipe's when the model has it, else points 48-59 of the 68), seen from the front, within 1.5 cm
of the contour's depth.
"""

import numpy as np
import torch

from emoca.facemodel.base import FaceModel
from emoca.facemodel.geometry import inside_polygon, sphere_centre

IRIS_HALF_ANGLE = 0.55  # radians about the eyeball's forward (+z) axis
# MediaPipe's outer lip contour, in order around the mouth; the 68 points' outer lip.
OUTER_LIPS = {"dense": (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146),
              "ibug": tuple(range(48, 60))}
LIP_DEPTH_CM = 1.5
REGIONS = ("skin", "lips", "sclera", "iris")


def eye_masks(model: FaceModel) -> tuple[torch.Tensor, torch.Tensor]:
    """(V,) bool masks: sclera and iris of both eyeballs (neutral gaze); empty where the model has none."""
    sclera = torch.zeros(model.n_vertices, dtype=torch.bool)
    iris = torch.zeros(model.n_vertices, dtype=torch.bool)
    for side in ("left", "right"):
        mask = model.regions.get(f"eyeball_{side}")
        if mask is None or int(mask.sum()) < 4:
            continue
        points = model.template[mask]
        centre = torch.as_tensor(sphere_centre(points.double().numpy()), dtype=points.dtype)
        front = torch.nn.functional.normalize(points - centre, dim=-1)[:, 2] > np.cos(IRIS_HALF_ANGLE)
        iris[mask] = front
        sclera[mask] = ~front
    return sclera, iris


def lip_mask(model: FaceModel) -> torch.Tensor:
    """(V,) bool: the lips (needs a landmark embedding)."""
    which = "dense" if "dense" in model.embedded else "ibug"
    contour = model.surface_landmarks(model.template[None], which)[0, list(OUTER_LIPS[which])].numpy()
    template = model.template.numpy()
    inside = inside_polygon(contour[:, :2], template[:, :2])
    near = np.abs(template[:, 2] - contour[:, 2].mean()) < LIP_DEPTH_CM / model.cm_per_unit
    return torch.from_numpy(inside & near & model.regions["face"].numpy())


def appearance_regions(model: FaceModel) -> torch.Tensor:
    """(V, 4) bool membership of every vertex in `REGIONS` (skin is everything else)."""
    sclera, iris = eye_masks(model)
    lips = lip_mask(model)
    skin = ~(sclera | iris | lips)
    return torch.stack([skin, lips, sclera, iris], -1)
