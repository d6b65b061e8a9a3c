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
    # (B, 68, 3) iBUG/300-W points where fitting and decoding read them (the learned "ibug" embedding; the
    # jawline at its frontal places: `emoca.decode` puts it on the silhouette); None without an embedding
    landmarks_68: torch.Tensor | None


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
        embedded: which detector landmark sets have surface places ("dense": MediaPipe's 478, "ibug":
            the 68 points), each as `{which}_corners` (N, 3) vertex ids and `{which}_barycentric` (N, 3).
    """

    units: str
    n_identity: int
    expression_names: list[str]
    embedded: list[str]

    @property
    def cm_per_unit(self) -> float:
        """Centimetres in one model unit (1 for ICT's cm, 100 for FLAME's metres)."""
        return {"cm": 1.0, "m": 100.0}[self.units]

    def eyeball_masks(self) -> list[torch.Tensor]:
        """The two eyeballs' (V,) bool vertex masks, left then right ([] when the model has none)."""
        masks = [self.regions.get(f"eyeball_{side}") for side in ("left", "right")]
        masks = [mask for mask in masks if mask is not None and int(mask.sum()) >= 4]
        return masks if len(masks) == 2 else []

    def surface_landmarks(self, vertices: torch.Tensor, which: str = "dense") -> torch.Tensor:
        """Points on the surface of (B, V, 3) vertices where the detector's landmarks lie: "dense" gives
        MediaPipe's 478 points (B, 478, 3), "ibug" the 68 iBUG points (B, 68, 3) (jawline as seen
        frontally). Same units and frame as `vertices`."""
        if which not in self.embedded:
            raise ValueError(f"no {which!r} landmark embedding for this model (have {self.embedded})")
        corners, bary = getattr(self, f"{which}_corners"), getattr(self, f"{which}_barycentric")
        return torch.einsum("bnkc,nk->bnc", vertices[:, corners], bary)

    def landmarks_68(self, vertices: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) vertices -> (B, 68, 3) the model's own 68 landmark places on that surface (ICT-FaceKit's
        authored vertices; FLAME's embedding). `FaceOutput.landmarks_68` holds the learned places instead."""
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
