"""Visibility (no gradient) and differentiable barycentrics of the covered pixels.

The split follows nvdiffrast: a backend finds each pixel's front triangle; the barycentrics are then
recomputed here in PyTorch from the screen vertices, so gradients reach vertex positions.
"""

from dataclasses import dataclass

import torch

from emoca.render.barycentric_cpu import PixelBarycentric, PixelInterpolate
from emoca.render.visibility_cpu import covered_pixels, rasterize_cpu


@dataclass
class Rasterization:
    """Which triangle each pixel sees, and where on it.

    triangle_id: (B, H, W) long, -1 for background.
    depth: (B, H, W) screen depth of the visible surface (inf for background); no gradient.
    pixels: (N,) long flat indices into B*H*W of the covered pixels, batch-major.
    triangles: (N,) long triangle id of each covered pixel.
    pixel_batch: (N,) long batch item of each covered pixel.
    corners: (N, 3) long vertex ids of each covered pixel's triangle.
    barycentric: (N, 3) perspective-correct barycentrics of each covered pixel's centre, differentiable
        with respect to the screen vertices.
    """

    triangle_id: torch.Tensor
    depth: torch.Tensor
    pixels: torch.Tensor
    triangles: torch.Tensor
    pixel_batch: torch.Tensor
    corners: torch.Tensor
    barycentric: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        """(B, H, W, 1) float: 1 where a triangle covers the pixel centre."""
        return (self.triangle_id >= 0).unsqueeze(-1).to(self.barycentric.dtype)

    def to_image(self, values: torch.Tensor) -> torch.Tensor:
        """Scatter per-covered-pixel values (N, C) into a (B, H, W, C) image, zero elsewhere."""
        batch, height, width = self.triangle_id.shape
        image = values.new_zeros(batch * height * width, values.shape[-1])
        return image.index_copy(0, self.pixels, values).reshape(batch, height, width, -1)


def pixel_centres(flat_pixels: torch.Tensor, height: int, width: int, dtype: torch.dtype) -> torch.Tensor:
    """(N,) flat indices into B*H*W -> (N, 2) pixel-centre coordinates (x, y)."""
    col = flat_pixels % width
    row = (flat_pixels // width) % height
    return torch.stack([col, row], -1).to(dtype) + 0.5


def screen_barycentric(corners: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Screen-space (affine) barycentrics of 2D points with respect to triangles.

    Args:
        corners: (N, 3, 2) triangle corners in pixels.
        points: (N, 2) pixels.
    Returns:
        (N, 3); negative entries mean the point is outside, across the edge opposite that corner.
    """
    a, b, c = corners.unbind(1)
    cross = lambda u, v: u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]  # noqa: E731
    area = cross(b - a, c - a)
    b0 = cross(c - b, points - b) / area
    b1 = cross(a - c, points - c) / area
    return torch.stack([b0, b1, 1 - b0 - b1], -1)


def gather_corners(values: torch.Tensor, corners: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """values (B, V, C), corner vertex ids (N, 3), batch ids (N,) -> (N, 3, C)."""
    n_vertices = values.shape[1]
    flat = values.reshape(-1, values.shape[-1])
    return flat[(corners + (batch * n_vertices)[:, None]).reshape(-1)].reshape(*corners.shape, -1)


def _visibility(screen: torch.Tensor, triangles: torch.Tensor, height: int, width: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Visibility of CUDA tensors: nvdiffrast when installed, else the CPU pass and back."""
    from emoca.render import nvdiffrast_backend

    if nvdiffrast_backend.available():
        return nvdiffrast_backend.visibility(screen, triangles, height, width)
    triangle_id, depth = rasterize_cpu(screen.detach().cpu().numpy(), triangles.cpu().numpy(), height, width)
    return (torch.from_numpy(triangle_id).to(screen.device),
            torch.from_numpy(depth).to(device=screen.device, dtype=screen.dtype))


def rasterize(screen: torch.Tensor, triangles: torch.Tensor, image_size: tuple[int, int]) -> Rasterization:
    """Rasterise a batch of meshes.

    Args:
        screen: (B, V, 4) screen vertices [x, y, depth, w] (see `emoca.render.camera`).
        triangles: (F, 3) long.
        image_size: (height, width).
    Returns:
        A `Rasterization`. CPU tensors use the compiled CPU pass; CUDA tensors use nvdiffrast when it
        is installed (else the CPU pass, results moved back to the GPU).
    """
    height, width = image_size
    if screen.is_cuda:
        triangle_id, depth = _visibility(screen, triangles, height, width)
        pixels = torch.nonzero(triangle_id.reshape(-1) >= 0).squeeze(1)
        tri = triangle_id.reshape(-1)[pixels]
        batch, corners = pixels // (height * width), triangles[tri]
        centres = pixel_centres(pixels, height, width, screen.dtype)
        barycentric = perspective_barycentric(screen, corners, batch, centres)
        return Rasterization(triangle_id, depth, pixels, tri, batch, corners, barycentric)
    # The same computation, compiled.
    triangle_id, depth = rasterize_cpu(screen.detach().numpy(), triangles.numpy(), height, width)
    arrays = covered_pixels(triangle_id, triangles.numpy(), screen.detach().numpy().dtype)
    pixels, tri, batch, corners, centres = (torch.from_numpy(a) for a in arrays)
    flat_corners = corners + (batch * screen.shape[1])[:, None]
    barycentric = PixelBarycentric.apply(screen.reshape(-1, 4).contiguous(), flat_corners, centres)
    return Rasterization(torch.from_numpy(triangle_id), torch.from_numpy(depth).to(screen.dtype), pixels, tri,
                         batch, corners, barycentric)


def perspective_barycentric(screen: torch.Tensor, corners: torch.Tensor, batch: torch.Tensor,
                            centres: torch.Tensor) -> torch.Tensor:
    """Perspective-correct barycentrics (N, 3) of pixel centres (N, 2) in triangles with corner vertex
    ids (N, 3) of batch items (N,); the PyTorch reference of the compiled CPU path."""
    corners = gather_corners(screen, corners, batch)  # (N, 3, 4)
    linear = screen_barycentric(corners[..., :2], centres)
    # Barycentrics of 1/w-weighted attributes, renormalised.
    weighted = linear / corners[..., 3]
    return weighted / weighted.sum(-1, keepdim=True)


def interpolate(attributes: torch.Tensor, rast: Rasterization, triangles: torch.Tensor | None = None
                ) -> torch.Tensor:
    """Interpolate per-vertex attributes at the covered pixels.

    Args:
        attributes: (B, V, C) or (V, C), indexed by `triangles`.
        rast: the rasterization.
        triangles: optional (F, 3) long, rows matching the rasterised triangles, for a parallel index
            array such as UV-corner indices; None uses the rasterised triangles' vertex ids.
    Returns:
        (N, C) values at `rast.pixels` (use `rast.to_image` for an image). Differentiable in
        `attributes` and, through `rast.barycentric`, in the screen vertices.
    """
    corners = rast.corners if triangles is None else triangles[rast.triangles]  # (N, 3)
    if attributes.dim() == 3:  # rows of the flattened (B*V, C) attributes
        corners = corners + (rast.pixel_batch * attributes.shape[1])[:, None]
        attributes = attributes.reshape(-1, attributes.shape[-1])
    if attributes.is_cuda:
        return (attributes[corners] * rast.barycentric.unsqueeze(-1)).sum(1)
    return PixelInterpolate.apply(attributes, corners.contiguous(), rast.barycentric)
