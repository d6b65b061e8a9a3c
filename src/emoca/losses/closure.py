"""EMOCA v2's eye- and lip-closure losses: the model's lid and lip openings match the detected ones."""

import torch


def closure_loss(projected: torch.Tensor, detected: torch.Tensor, pairs: list[tuple[int, int]],
                 scale: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute difference of (upper - lower) offsets between model and detections.

    Args:
        projected, detected: (B, N, 2) points indexed by `pairs`.
        pairs: (upper, lower) index pairs (see `emoca.facemodel.landmark_sets`).
        scale: optional (B,) normaliser.
    Returns:
        (B,) loss.
    """
    upper, lower = zip(*pairs, strict=True)
    model_gap = projected[:, list(upper)] - projected[:, list(lower)]
    detected_gap = detected[:, list(upper)] - detected[:, list(lower)]
    loss = (model_gap - detected_gap).norm(dim=-1).mean(-1)
    return loss if scale is None else loss / scale
