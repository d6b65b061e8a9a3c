"""An albedo model that needs no restricted data.

FLAME's usual albedo (and DECA's) comes from the Basel Face Model, whose licence forbids shipping it.
Here per-vertex albedo = region colours + a smooth variation:

* regions from geometry (`emoca.facemodel.face_regions`): skin, lips, sclera, iris, brows; each has one
  RGB colour to fit (a model predicting four colours, like the shipped regressor, gets its brows'
  colour measured on the photo: `emoca.predictors.brow_colour`). This carries most of what a photo shows
  of albedo at reconstruction resolution.
* a low-frequency cosine basis over the head (cos(pi i a) cos(pi j b), i, j < `frequencies`, with a the
  template's |x| and b its height, both over the face region's, clamped to [0, 1]), RGB coefficients, applied to
  skin and lips: gradual changes (cheeks redder than the forehead, darker stubble regions) without the
  freedom to paint shading or hair into the albedo. It is mirror-symmetric and continuous over the whole
  mesh by construction. (Until 2026-12-02 it ran over ICT's UV map, whose two tiles are each mirrored
  about their middle and meet at the face's border: cos(pi u) took opposite signs on the two halves of
  the face and jumped between face and neck, the seam and the left/right colour difference users saw.)

Why not a learned PCA basis: no albedo data set may be shipped here; this model has a handful of
interpretable parameters, and its smoothness is the prior.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from emoca.facemodel.base import FaceModel
from emoca.facemodel.face_regions import appearance_regions

# RGB of `REGIONS`: skin, lips, sclera, iris, brows.
DEFAULT_COLOURS = ((0.7, 0.55, 0.45), (0.65, 0.35, 0.33), (0.85, 0.82, 0.78), (0.25, 0.18, 0.14),
                   (0.3, 0.22, 0.17))


@dataclass
class AlbedoConfig:
    """frequencies: cosine basis functions per UV axis (frequencies^2 functions in all)."""

    frequencies: int = 3


def symmetric_coordinates(model: FaceModel) -> torch.Tensor:
    """(V, 2) the template's (|x|, y) scaled so the face region spans [0, 1], clamped outside it (the neck
    and the back of the head take the value at the face's edge: continuous, never extrapolated to the
    basis's extremes where no photo constrains it); the same for a vertex and its mirror image."""
    points = model.template.reshape(-1, 3)[:, :2]
    face = points[model.regions["face"]] if "face" in model.regions else points
    across = points[:, 0].abs() / face[:, 0].abs().max().clamp(min=1e-8)
    low, high = face[:, 1].min(), face[:, 1].max()
    return torch.stack([across, (points[:, 1] - low) / (high - low).clamp(min=1e-8)], 1).clamp(0, 1)


class AlbedoModel(nn.Module):
    """`albedo(colours, coefficients)` -> (B, V, 3) in [0, 1].

    colours: (B, 5, 3) RGB of `REGIONS`. coefficients: (B, K, 3) of the smooth UV basis (K =
    frequencies^2; the constant function is left out of the skin's freedom by starting at zero).
    """

    def __init__(self, model: FaceModel, config: AlbedoConfig | None = None) -> None:
        super().__init__()
        self.config = config or AlbedoConfig()
        regions = appearance_regions(model)
        self.register_buffer("membership", regions.float())  # (V, R)
        self.basis_name = "symmetric"  # what the cosine basis runs over (params.json: "uv" before schema 7)
        uv = symmetric_coordinates(model)
        k = torch.arange(self.config.frequencies, dtype=torch.float32)
        basis = (torch.cos(np.pi * uv[:, 0:1, None] * k[None, :, None])
                 * torch.cos(np.pi * uv[:, 1:2, None] * k[None, None, :]))
        smooth_mask = (regions[:, 0] | regions[:, 1]).float()[:, None]  # skin and lips
        self.register_buffer("basis", basis.reshape(model.n_vertices, -1)[:, 1:] * smooth_mask)  # (V, K-1)

    @property
    def n_coefficients(self) -> int:
        return self.basis.shape[1]

    def neutral_parameters(self, batch: int) -> dict[str, torch.Tensor]:
        """Default colours, no smooth variation."""
        return {"colours": torch.tensor(DEFAULT_COLOURS).expand(batch, -1, -1).clone(),
                "coefficients": torch.zeros(batch, self.n_coefficients, 3)}

    def forward(self, colours: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
        albedo = torch.einsum("vr,brc->bvc", self.membership, colours)
        albedo = albedo + torch.einsum("vk,bkc->bvc", self.basis, coefficients)
        return albedo.clamp(0, 1)
