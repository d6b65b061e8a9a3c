"""Cameras: model-space (or camera-space) vertices -> screen vertices for the rasteriser.

Screen vertices are (B, V, 4) = [x, y, depth, w]:
    x, y   pixels, origin at the image's top-left corner, x right, y down; pixel (row i, column j) has
           its centre at (j + 0.5, i + 0.5).
    depth  smaller is nearer; linear in screen space so the rasteriser may interpolate it.
    w      positive perspective divisor (the view distance) for perspective-correct interpolation;
           1 for the weak-perspective camera.
"""

import torch


def weak_perspective(vertices: torch.Tensor, scale: torch.Tensor, translation: torch.Tensor,
                     image_size: tuple[int, int]) -> torch.Tensor:
    """DECA's weak-perspective camera: `p = s * v[:2] + t` in normalised crop coordinates.

    Args:
        vertices: (B, V, 3) posed vertices in model axes (+y up, +z towards the camera).
        scale: (B,) or (B, 1) normalised units per model unit.
        translation: (B, 2) in normalised coordinates ([-1, 1] spans the image, +y up).
        image_size: (height, width) in pixels.
    Returns:
        (B, V, 4) screen vertices; y is flipped to image-down at the end.
    """
    height, width = image_size
    scale = scale.reshape(-1, 1, 1)
    projected = scale * vertices[..., :2] + translation[:, None, :]
    x = (projected[..., 0] + 1) * (width / 2)
    y = (1 - projected[..., 1]) * (height / 2)
    depth = -scale[..., 0] * vertices[..., 2]
    return torch.stack([x, y, depth, torch.ones_like(x)], dim=-1)


def perspective(vertices: torch.Tensor, focal: torch.Tensor, principal: torch.Tensor,
                near: float = 1e-3) -> torch.Tensor:
    """Pinhole camera looking down -z (OpenGL convention: +x right, +y up, +z behind the camera).

    Args:
        vertices: (B, V, 3) in the camera frame, in any length unit; visible points have z < -near.
        focal: (B,) focal length in pixels.
        principal: (B, 2) principal point (x, y) in pixels, top-left origin.
    Returns:
        (B, V, 4) screen vertices with depth = -1/distance (linear in screen space) and w = distance.
        Points closer than `near` get w <= 0 and the rasteriser drops their triangles.
    """
    distance = -vertices[..., 2]
    safe = torch.where(distance > near, distance, torch.ones_like(distance))
    focal = focal.reshape(-1, 1)
    x = principal[:, None, 0] + focal * vertices[..., 0] / safe
    y = principal[:, None, 1] - focal * vertices[..., 1] / safe
    w = torch.where(distance > near, distance, torch.full_like(distance, -1.0))
    return torch.stack([x, y, -1 / safe, w], dim=-1)
