"""Masked, robust photometric loss: the render should look like the photo where the face's skin is."""

import torch


def photometric_loss(rendered: torch.Tensor, photo: torch.Tensor, mask: torch.Tensor,
                     threshold: float = 0.15) -> torch.Tensor:
    """Mean robust colour difference inside `mask`.

    Pixels whose error exceeds `threshold` (colour distance in [0, 1] units) count with a constant
    penalty (a truncated L1), so hair, hands or glasses inside the mask cannot drag the fit.

    Args:
        rendered, photo: (B, 3, H, W) in [0, 1]. mask: (B, 1, H, W) in [0, 1] (skin x coverage).
    Returns:
        (B,) loss.
    """
    error = (rendered - photo).abs().sum(1, keepdim=True) / 3
    robust = torch.where(error < threshold, error, torch.full_like(error, threshold))
    return (robust * mask).sum((1, 2, 3)) / mask.sum((1, 2, 3)).clamp(min=1.0)
