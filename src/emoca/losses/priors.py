"""Priors that keep parameters plausible."""

import torch


def gaussian_prior(weights: torch.Tensor) -> torch.Tensor:
    """(B, K) weights in standard deviations (ICT identity) -> (B,) mean squared value."""
    return weights.pow(2).mean(-1)


def sparsity_prior(weights: torch.Tensor) -> torch.Tensor:
    """(B, K) non-negative blendshape weights -> (B,) mean value (an L1 prior: few active shapes)."""
    return weights.abs().mean(-1)


def light_prior(light: torch.Tensor) -> torch.Tensor:
    """(B, 9, 3) SH light -> (B,): penalises coloured light (channels that differ) and strong
    higher-order bands, so colour goes to the albedo and shape to the geometry."""
    grey = light.mean(-1, keepdim=True)
    return (light - grey).pow(2).mean((1, 2)) + light[:, 4:].pow(2).mean((1, 2))
