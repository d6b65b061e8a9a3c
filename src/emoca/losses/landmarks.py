"""Landmark reprojection (the jawline's sliding correspondences are chosen in `emoca.decode.jaw_contour`)."""

import torch


def landmark_loss(projected: torch.Tensor, detected: torch.Tensor, weights: torch.Tensor | None = None,
                  scale: torch.Tensor | None = None) -> torch.Tensor:
    """Mean distance between projected model points and detections.

    Args:
        projected, detected: (B, N, 2) in the same pixel frame.
        weights: optional (N,) or (B, N) per-point weights (0 switches a point off).
        scale: optional (B,) normaliser (e.g. the eye-corner distance), making the loss unit-free.
    Returns:
        (B,) weighted mean Euclidean distance (pixels, or units of `scale`).
    """
    distance = (projected - detected).norm(dim=-1)
    if weights is None:
        weights = torch.ones_like(distance)
    weights = weights.expand_as(distance)
    loss = (weights * distance).sum(-1) / weights.sum(-1).clamp(min=1e-8)
    return loss if scale is None else loss / scale
