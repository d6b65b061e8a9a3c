"""Appearance regions of a face model's render mesh (per-vertex masks): eyes (sclera, iris), lips, brows.

Neither ICT-FaceKit nor FLAME labels lips, irises or brows, so all come from geometry: the iris is the cap
of each eyeball (`regions["eyeball_left"/"eyeball_right"]`) within `IRIS_HALF_ANGLE` of its forward (+z)
axis; the lips are the face vertices inside the outer lip contour of the landmark embedding
(MediaPipe's when the model has it, else points 48-59 of the 68), seen from the front, within 1.5 cm
of the contour's depth; the brows likewise inside MediaPipe's two eyebrow outlines (the 68 points' brow
lines 17-21 and 22-26 widened by `BROW_HALF_HEIGHT_CM` up and down where the model has only those).
Brows are what a recogniser reads anger and surprise from: without them a brow movement barely changes
a render.
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
# MediaPipe's eyebrow outlines (upper edge outwards-in, then the lower edge back), subject's right and left.
BROWS = {"dense": ((70, 63, 105, 66, 107, 55, 65, 52, 53, 46), (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)),
         "ibug": (tuple(range(17, 22)), tuple(range(22, 27)))}
BROW_HALF_HEIGHT_CM = 0.45
BROW_DEPTH_CM = 1.0
REGIONS = ("skin", "lips", "sclera", "iris", "brows")


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


def brow_mask(model: FaceModel) -> torch.Tensor:
    """(V,) bool: both eyebrows (needs a landmark embedding)."""
    which = "dense" if "dense" in model.embedded else "ibug"
    points = model.surface_landmarks(model.template[None], which)[0].numpy()
    template = model.template.numpy()
    inside = np.zeros(model.n_vertices, dtype=bool)
    for outline in BROWS[which]:
        contour = points[list(outline)]
        if which == "ibug":  # a line: widen it into a band
            lift = np.array([0.0, BROW_HALF_HEIGHT_CM / model.cm_per_unit, 0.0])
            contour = np.concatenate([contour + lift, (contour - lift)[::-1]])
        near = np.abs(template[:, 2] - contour[:, 2].mean()) < BROW_DEPTH_CM / model.cm_per_unit
        inside |= inside_polygon(contour[:, :2], template[:, :2]) & near
    return torch.from_numpy(inside & model.regions["face"].numpy())


def appearance_regions(model: FaceModel) -> torch.Tensor:
    """(V, 5) bool membership of every vertex in `REGIONS` (skin is everything else)."""
    sclera, iris = eye_masks(model)
    lips = lip_mask(model)
    brows = brow_mask(model) & ~lips
    skin = ~(sclera | iris | lips | brows)
    return torch.stack([skin, lips, sclera, iris, brows], -1)
