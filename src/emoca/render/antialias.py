"""Analytic antialiasing at silhouettes, so gradients reach the vertices on the outline.

After nvdiffrast's antialiasing: for each pair of horizontally or vertically adjacent pixels that see
different surfaces, the nearer triangle's edge that crosses the segment between the two pixel centres
is found. If it is a silhouette edge (a mesh boundary, or its neighbour across the edge faces the other
way) the two pixels' colours are blended by how far the edge sits from the midpoint of the segment,
as a box filter would. The crossing point moves with the vertices, which gives the outline gradients.
"""

import numpy as np
import torch

from emoca.render.rasterize import Rasterization, gather_corners, pixel_centres, screen_barycentric
from emoca.render.visibility_cpu import silhouette_pairs


def edge_neighbours(triangles: np.ndarray) -> np.ndarray:
    """For each triangle and each corner k, the triangle across the edge opposite corner k.

    Args:
        triangles: (F, 3) vertex indices.
    Returns:
        (F, 3) int64, -1 on mesh boundaries and on edges shared by more than two triangles.
    """
    n_tri = len(triangles)
    a = triangles[:, [1, 2, 0]].reshape(-1)  # edge k of triangle f joins corners k+1 and k+2
    b = triangles[:, [2, 0, 1]].reshape(-1)
    key = np.minimum(a, b).astype(np.int64) * (int(triangles.max()) + 1) + np.maximum(a, b)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    counts = np.diff(np.r_[starts, len(key)])
    neighbours = np.full(3 * n_tri, -1, np.int64)
    pairs = starts[counts == 2]
    first, second = order[pairs], order[pairs + 1]
    neighbours[first] = second // 3
    neighbours[second] = first // 3
    return neighbours.reshape(n_tri, 3)


def antialias(image: torch.Tensor, rast: Rasterization, screen: torch.Tensor, triangles: torch.Tensor,
              neighbours: torch.Tensor) -> torch.Tensor:
    """Blend colours across silhouette edges.

    Args:
        image: (B, H, W, C) colours, already composited over the background.
        rast: the rasterization that produced it.
        screen: (B, V, 4) screen vertices (gradients flow to x, y).
        triangles: (F, 3) long.
        neighbours: (F, 3) long from `edge_neighbours`.
    Returns:
        (B, H, W, C) antialiased image.
    """
    batch, height, width, channels = image.shape
    # Finding the pairs needs no gradient: the compiled pass does it on the CPU.
    pairs = silhouette_pairs(screen.detach().cpu().numpy(), triangles.cpu().numpy(), neighbours.cpu().numpy(),
                             rast.triangle_id.cpu().numpy(), rast.depth.detach().cpu().double().numpy())
    if len(pairs) == 0:
        return image
    front, back, triangle, edge = torch.from_numpy(pairs).to(image.device).unbind(1)
    corners = gather_corners(screen[..., :2], triangles[triangle], front // (height * width))  # (P, 3, 2)
    at_front = screen_barycentric(corners, pixel_centres(front, height, width, screen.dtype))
    at_back = screen_barycentric(corners, pixel_centres(back, height, width, screen.dtype))
    b_front = at_front.gather(1, edge[:, None])
    b_back = at_back.gather(1, edge[:, None])
    # Where along front->back (0..1) the silhouette edge crosses the segment between the pixel centres.
    t = (b_front / (b_front - b_back)).clamp(0, 1)
    colours = image.reshape(-1, channels)
    c_front, c_back = colours[front], colours[back]
    # Edge before the midpoint: the front pixel is partly background. After it: the back pixel is
    # partly covered by the front surface.
    before = t < 0.5
    target = torch.where(before.squeeze(-1), front, back)
    delta = torch.where(before, (0.5 - t) * (c_back - c_front), (t - 0.5) * (c_front - c_back))
    return colours.index_add(0, target, delta).reshape(batch, height, width, channels)
