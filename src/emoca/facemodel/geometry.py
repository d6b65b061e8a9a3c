"""Small pure functions on 3D points shared by the face models: rotations and rigid transforms."""

import cv2
import numpy as np
import torch


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula.

    Args:
        axis_angle: (..., 3) rotation vectors, radians (direction = axis, norm = angle).
    Returns:
        (..., 3, 3) rotation matrices. Smooth at zero (a Taylor form is used for tiny angles), so
        gradients are finite for the identity rotation.
    """
    theta2 = (axis_angle * axis_angle).sum(-1, keepdim=True)[..., None]  # (..., 1, 1)
    small = theta2 < 1e-8
    theta2_safe = torch.where(small, torch.ones_like(theta2), theta2)
    theta = theta2_safe.sqrt()
    # sin(t)/t and (1-cos(t))/t^2, with their series where t is tiny.
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / theta2_safe)
    x, y, z = axis_angle.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*axis_angle.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand_as(skew)
    return eye + a * skew + b * (skew @ skew)


def eye_rotation(gaze: torch.Tensor) -> torch.Tensor:
    """(B, 2) gaze [yaw, pitch] radians -> (B, 3, 3) the eyes' rotation in the head frame: yaw about +y
    turns +z towards +x (the subject's left), then pitch about -x turns it towards +y (up)."""
    yaw, pitch = gaze.unbind(-1)
    zero = torch.zeros_like(yaw)
    return axis_angle_to_matrix(torch.stack([-pitch, zero, zero], -1)) @ axis_angle_to_matrix(
        torch.stack([zero, yaw, zero], -1))


def rigid_transform(points: torch.Tensor, rotation: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """Rotate about the origin, then translate.

    Args:
        points: (B, N, 3).
        rotation: (B, 3) axis-angle, radians.
        translation: (B, 3), in the points' units.
    Returns:
        (B, N, 3) points `R p + t`.
    """
    return points @ axis_angle_to_matrix(rotation).transpose(1, 2) + translation[:, None, :]


def points_on_surface(vertices: torch.Tensor, triangles: torch.Tensor, barycentric: torch.Tensor) -> torch.Tensor:
    """Points given as (triangle, barycentric) on a mesh.

    Args:
        vertices: (B, V, 3).
        triangles: (L,) long, index of the triangle each point lies on, into `faces` rows.
        barycentric: (L, 3) weights of that triangle's three corners (sum 1).
    Returns:
        (B, L, 3).
    """
    corners = vertices[:, triangles.reshape(-1)].reshape(vertices.shape[0], -1, 3, 3)
    return (corners * barycentric[None, :, :, None]).sum(2)


def sphere_centre(points: np.ndarray) -> np.ndarray:
    """Least-squares centre (3,) of a sphere through (N, 3) `points` (e.g. an eyeball's vertices)."""
    a = np.concatenate([2 * points, np.ones((len(points), 1))], axis=1)
    b = (points**2).sum(1)
    return np.linalg.lstsq(a, b, rcond=None)[0][:3]


def inside_polygon(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N,) bool: which of the (N, 2) points lie strictly inside the (M, 2) polygon (OpenCV's test, on
    the points within its bounding box)."""
    polygon = np.ascontiguousarray(polygon, np.float32)
    inside = np.zeros(len(points), bool)
    for index in np.flatnonzero(((points >= polygon.min(0)) & (points <= polygon.max(0))).all(1)):
        inside[index] = cv2.pointPolygonTest(polygon, (float(points[index, 0]), float(points[index, 1])), False) > 0
    return inside
