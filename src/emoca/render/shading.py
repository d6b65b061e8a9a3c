"""Normals and spherical-harmonics (SH) lighting: 9 coefficients per colour channel, Lambertian.

The SH basis is the real order-0..2 basis already convolved with the clamped-cosine kernel (the form
DECA uses), so `shading = basis(n) @ light` is the irradiance of a diffuse surface with normal n, and
`colour = albedo * shading`. Light is (B, 9, 3): 9 coefficients for each of R, G, B.
"""

import math

import torch
from torch import nn

from emoca.render.barycentric_cpu import VertexNormalsCPU
from emoca.render.sparse import SparseLinearMap

# Constant factor of each basis function: normalisation times the Lambertian kernel's band weight
# (pi, 2pi/3, pi/4 for bands 0, 1, 2).
_SH_FACTORS = (
    1 / math.sqrt(4 * math.pi),
    (2 * math.pi / 3) * math.sqrt(3 / (4 * math.pi)),
    (2 * math.pi / 3) * math.sqrt(3 / (4 * math.pi)),
    (2 * math.pi / 3) * math.sqrt(3 / (4 * math.pi)),
    (math.pi / 4) * 3 * math.sqrt(5 / (12 * math.pi)),
    (math.pi / 4) * 3 * math.sqrt(5 / (12 * math.pi)),
    (math.pi / 4) * 3 * math.sqrt(5 / (12 * math.pi)),
    (math.pi / 4) * (3 / 2) * math.sqrt(5 / (12 * math.pi)),
    (math.pi / 4) * (1 / 2) * math.sqrt(5 / (4 * math.pi)),
)


class VertexNormals(nn.Module):
    """Area-weighted unit vertex normals of a fixed triangle list, as sparse linear maps (fast backward).

    Args:
        triangles: (F, 3) long, counter-clockwise seen from outside.
        n_vertices: V.
    """

    def __init__(self, triangles: torch.Tensor, n_vertices: int) -> None:
        super().__init__()
        n_tri = triangles.shape[0]
        face = torch.arange(n_tri)
        ones = torch.ones(n_tri)

        def edge(k: int) -> SparseLinearMap:
            return SparseLinearMap(torch.cat([face, face]), torch.cat([triangles[:, k], triangles[:, 0]]),
                                   torch.cat([ones, -ones]), (n_tri, n_vertices))

        self.edge1, self.edge2 = edge(1), edge(2)
        self.register_buffer("triangles", triangles.long().contiguous())
        self.gather = SparseLinearMap(triangles.reshape(-1), face.repeat_interleave(3), torch.ones(3 * n_tri),
                                      (n_vertices, n_tri))

    def forward(self, vertices: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) -> (B, V, 3) unit normals (zero where the neighbourhood has no area). CPU tensors use
        the compiled twin; this sparse-matrix form is the reference and the CUDA path."""
        if not vertices.is_cuda:
            return VertexNormalsCPU.apply(vertices, self.triangles)
        return self.reference(vertices)

    def reference(self, vertices: torch.Tensor) -> torch.Tensor:
        """The PyTorch formulation of `forward`."""
        batch, n_vertices, _ = vertices.shape
        flat = vertices.permute(1, 0, 2).reshape(n_vertices, batch * 3)
        e1 = self.edge1(flat).reshape(-1, batch, 3)
        e2 = self.edge2(flat).reshape(-1, batch, 3)
        face_normals = torch.linalg.cross(e1, e2).reshape(-1, batch * 3)  # length = 2 x area
        normals = self.gather(face_normals).reshape(n_vertices, batch, 3).permute(1, 0, 2)
        return torch.nn.functional.normalize(normals, dim=-1, eps=1e-12)


def sh_basis(normals: torch.Tensor) -> torch.Tensor:
    """(..., 3) unit normals -> (..., 9) Lambertian-convolved SH basis values."""
    return _sh_monomials(normals) * normals.new_tensor(_SH_FACTORS)


def _sh_monomials(normals: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 9) the SH basis polynomials without their constant factors."""
    x, y, z = normals.unbind(-1)
    return torch.stack([torch.ones_like(x), x, y, z, x * y, x * z, y * z, x * x - y * y, 3 * z * z - 1], -1)


def sh_shading(normals: torch.Tensor, light: torch.Tensor) -> torch.Tensor:
    """Irradiance per pixel or vertex.

    Args:
        normals: (B, ..., 3) unit normals in the lighting frame (model/camera axes, +z to the camera).
        light: (B, 9, 3) SH coefficients per RGB channel.
    Returns:
        (B, ..., 3) shading, multiplied with albedo to give colour.
    """
    flat = _sh_monomials(normals).reshape(normals.shape[0], -1, 9)  # factors folded into the 27 light values
    return (flat @ (light * light.new_tensor(_SH_FACTORS)[:, None])).reshape(*normals.shape[:-1], 3)


def default_light(batch_size: int, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
                  ) -> torch.Tensor:
    """A neutral studio light (B, 9, 3): ambient plus a key light from the upper front, white."""
    coefficients = torch.zeros(9, dtype=dtype, device=device)
    coefficients[0], coefficients[2], coefficients[3] = 2.0, 0.2, 0.4
    return coefficients[None, :, None].expand(batch_size, 9, 3).clone()
