"""The interface every face model (ICT, FLAME) implements, and its typed output."""

from dataclasses import dataclass

import torch
from torch import nn

from emoca.facemodel.geometry import points_on_surface


@dataclass
class FaceOutput:
    """A batch of posed faces in the model's units (`FaceModel.units`) and model axes.

    Axes: +x the subject's left (image right when facing the camera), +y up, +z out of the face.
    """

    vertices: torch.Tensor  # (B, V, 3) posed vertices of the render mesh
    landmarks_68: torch.Tensor | None  # (B, 68, 3) iBUG/300-W points; None if the model has no embedding


class FaceModel(nn.Module):
    """A parametric face: identity and expression coefficients plus a rigid head pose give a mesh.

    Subclasses fill these attributes (all torch buffers move with `.to(device)`):
        units: "cm" or "m".
        n_identity: length of the identity vector (unit Gaussian prior for ICT).
        expression_names: names of the expression coefficients, in order.
        triangles: (F, 3) long, render mesh triangles, counter-clockwise seen from outside.
        uv: (T, 2) float texture coordinates in [0, 1], v up; `triangles_uv` (F, 3) indexes it.
        landmark_triangles, landmark_barycentric: (68,), (68, 3) the 68 points on the surface.
        regions: name -> (V,) bool mask over the render mesh's vertices.
    """

    units: str
    n_identity: int
    expression_names: list[str]

    def landmarks_68(self, vertices: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) vertices -> (B, 68, 3) landmark positions on that surface."""
        return points_on_surface(vertices, self.triangles[self.landmark_triangles], self.landmark_barycentric)

    @property
    def n_vertices(self) -> int:
        """Vertices in the render mesh."""
        return int(self.template.shape[0])

    def neutral_parameters(self, batch_size: int = 1) -> dict[str, torch.Tensor]:
        """Zero identity, expression and pose for `batch_size` faces, as keyword arguments of forward."""
        dtype, device = self.template.dtype, self.template.device
        return {
            "identity": torch.zeros(batch_size, self.n_identity, dtype=dtype, device=device),
            "expression": torch.zeros(batch_size, len(self.expression_names), dtype=dtype, device=device),
            "rotation": torch.zeros(batch_size, 3, dtype=dtype, device=device),
            "translation": torch.zeros(batch_size, 3, dtype=dtype, device=device),
        }
