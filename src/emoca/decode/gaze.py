"""Eye gaze from MediaPipe's iris centres and a reconstructed head.

The reconstruction places each eyeball (its centre, and the head's forward axis); the detector's iris
centre (MediaPipe points 468 and 473) is where the pupil is seen on the crop. Under the weak perspective
the pupil's offset from the projected eyeball centre is the eye's direction times the pupil's distance
from the centre, seen from the front: inverting that gives each eye's direction in the camera frame,
then in the head frame (the head rotation undone), as yaw and pitch. Both eyes are averaged: ICT and
ARKit models look with one gaze.

Convention (as `emoca.facemodel.ict.ICTFaceModel`'s `gaze`): [yaw, pitch] radians in the head frame;
+ yaw looks to the subject's left (+x), + pitch looks up (+y).
"""

import numpy as np
import torch

from emoca.decode.decoder import Decoded, FaceDecoder
from emoca.face_params import FaceParams
from emoca.facemodel.base import FaceModel
from emoca.facemodel.geometry import axis_angle_to_matrix, eye_rotation, sphere_centre

IRIS_CENTRES = (468, 473)  # MediaPipe's two iris centres (present when the dense set has 478 points)
EYES = ((468, (33, 133)), (473, (362, 263)))  # each iris centre with its eye's two corners (MediaPipe)
# Pupil distance from the eyeball's centre, as a fraction of the cornea's apex distance: 1.0 was the best
# of 0.8..3.0 on 100 synthetic ICT renders with known gaze (seed 1, separate from the benchmark's seed 7;
# `benchmarks/bench_gaze.py --calibrate`; 1.2 measuring from the eyeball centre alone).
PUPIL_DEPTH = 1.0


def estimate_gaze(decoder: FaceDecoder, params: FaceParams, decoded: Decoded, dense: np.ndarray,
                  pupil_depth: float = PUPIL_DEPTH, relative: bool = True) -> np.ndarray | None:
    """[yaw, pitch] radians (2,) of one face (`params`, `decoded`: batches of one, posed at neutral
    gaze; `decoded` may be points only, `mesh=False`: the eyeballs are posed here, alone); `dense`:
    (478, 2) the detector's points in crop pixels (iris centres 468 and 473). None when the model has
    no eyeballs.

    `relative` (where the model has MediaPipe's embedding): each iris is measured from its eye's
    corners, against where the reconstruction puts the iris at neutral gaze from the same corners, so a
    misplaced or slightly misturned head moves both alike and cancels; else from the projected eyeball
    centre alone."""
    eyeballs = decoder.eyeballs(params)
    if not eyeballs:
        return None
    rotation = axis_angle_to_matrix(params.rotation[0].double().cpu())
    forward = rotation[:, 2]
    seen = torch.as_tensor(np.asarray(dense)[:, :2], dtype=torch.float64)
    model_points = None if decoded.dense is None or not relative else decoded.dense[0].double().cpu()
    angles = []
    for points in eyeballs:
        points = points[0].double().cpu()
        centre = torch.as_tensor(sphere_centre(points.numpy()))
        depth = float(((points - centre) @ forward).max()) * pupil_depth
        probe = torch.stack([centre, centre + torch.tensor([1.0, 0, 0], dtype=centre.dtype),
                             centre + torch.tensor([0, 1.0, 0], dtype=centre.dtype), centre + depth * forward])
        pixels = decoder.project(probe[None].float(), params.scale[:1].cpu(), params.offset[:1].cpu())[0].double()
        jacobian = torch.stack([pixels[1] - pixels[0], pixels[2] - pixels[0]], 1)  # crop px per model unit
        iris, corners = min(EYES, key=lambda eye: float(((seen[eye[0]] - pixels[0]) ** 2).sum()))
        if model_points is None:
            pupil = seen[iris]
        else:  # the neutral pupil, moved by how far the seen iris is from where the model puts it
            seen_offset = seen[iris] - seen[list(corners)].mean(0)
            pupil = pixels[3] + seen_offset - (model_points[iris] - model_points[list(corners)].mean(0))
        sideways = torch.linalg.solve(jacobian, pupil - pixels[0]) / depth  # camera-frame x, y of the direction
        sideways = sideways * min(1.0, 0.99 / float(sideways.norm().clamp(min=1e-9)))
        direction = torch.cat([sideways, (1 - (sideways**2).sum()).sqrt()[None]])
        head = rotation.T @ direction
        angles.append([float(torch.asin(head[0].clamp(-1, 1))), float(torch.atan2(head[1], head[2]))])
    return np.mean(angles, axis=0)


def turn_eyes(model: FaceModel, vertices: torch.Tensor, rotation: torch.Tensor, gaze: torch.Tensor
              ) -> torch.Tensor:
    """(B, V, 3) vertices posed by head `rotation` (B, 3) (zeros for unposed meshes) with both eyeballs
    turned about their centres to `gaze` (B, 2); unchanged for models without eyeballs."""
    head = axis_angle_to_matrix(rotation.to(vertices))
    turn = head @ eye_rotation(gaze.to(vertices)) @ head.transpose(1, 2)
    out = vertices.clone()
    for mask in model.eyeball_masks():
        mask = mask.to(vertices.device)
        points = vertices[:, mask]
        centres = torch.stack([torch.as_tensor(sphere_centre(p.detach().double().cpu().numpy())) for p in points])
        centres = centres.to(vertices)[:, None]
        out[:, mask] = (points - centres) @ turn.transpose(1, 2) + centres
    return out
