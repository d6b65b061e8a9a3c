"""The brows' albedo of a predictor that gives only the first four region colours (the shipped regressor
was trained before the brow region existed): measured on the photo, in closed form.

The photo's colour along each brow's centre line (midpoints of MediaPipe's upper and lower brow outlines)
over its colour at forehead and cheek points, per channel, times the predicted skin albedo: light and
shading are nearly the same at both places, so their ratio is the brows' albedo over the skin's. Dark
brows come out dark, blond brows near the skin, and a grey photo gives grey brows.
"""

import torch
import torch.nn.functional as F

from emoca.face_params import FaceParams
from emoca.facemodel.face_regions import BROWS, REGIONS
from emoca.targets import FaceTargets

SKIN_POINTS = (151, 108, 337, 9, 50, 280, 118, 347)  # MediaPipe: forehead, between the brows, cheeks
RATIO_RANGE = (0.1, 1.2)  # brow / skin, per channel


def _centre_lines() -> tuple[list[int], list[int]]:
    """Each brow outline's upper points and the lower points facing them (MediaPipe indices)."""
    upper, lower = [], []
    for outline in BROWS["dense"]:
        half = len(outline) // 2
        upper += outline[:half]
        lower += outline[half:][::-1]
    return upper, lower


def _sample(images: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(B, 3, S, S) images at (B, N, 2) crop-pixel points (bilinear) -> (B, N, 3)."""
    size = images.shape[-1]
    grid = ((points + 0.5) / size * 2 - 1)[:, :, None]  # pixel centres at k + 0.5 of [0, S]
    return F.grid_sample(images, grid.to(images), align_corners=False)[..., 0].transpose(1, 2)


def with_brow_colour(params: FaceParams, targets: FaceTargets) -> FaceParams:
    """`params` with a brow colour appended where its `colours` lack one ((B, 4, 3) -> (B, 5, 3)); returned
    unchanged when it has every region's colour."""
    if params.colours.shape[1] >= len(REGIONS):
        return params
    upper, lower = _centre_lines()
    dense = targets.dense.to(params.colours)
    centre = (dense[:, upper] + dense[:, lower]) / 2
    images = targets.images.to(params.colours)
    brow = _sample(images, centre).median(1).values
    skin = _sample(images, dense[:, list(SKIN_POINTS)]).median(1).values
    ratio = (brow / skin.clamp(min=1e-3)).clamp(*RATIO_RANGE)
    brows = (params.colours[:, 0] * ratio).clamp(0, 1)
    return params.replace(colours=torch.cat([params.colours, brows[:, None]], 1))
