"""Batch augmentations that make photos and our renders look alike to the emotion recogniser.

All on tensors, per sample random, one `torch.Generator` for reproducibility: geometry (scale, rotation,
shift, flip) in one resampling; lighting (contrast, brightness, gamma, a directional gradient); colour
tint (the recogniser greys it again, so colour inputs and grey inputs meet); blur by down-and-up
sampling (FER's 48 px faces vs 224 px renders); sensor noise.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AugmentConfig:
    """Ranges of the random augmentations; probabilities in [0, 1], angles in degrees."""

    scale: tuple[float, float] = (0.88, 1.12)
    rotation_deg: float = 12.0
    shift: float = 0.06  # fraction of the image side
    flip: float = 0.5
    contrast: tuple[float, float] = (0.6, 1.4)
    brightness: float = 0.15
    gamma: tuple[float, float] = (0.7, 1.4)
    gradient: float = 0.2
    tint: float = 0.5  # probability of a colour tint
    blur: float = 0.35  # probability of down-and-up sampling
    blur_sizes: tuple[int, ...] = (16, 24, 32)
    noise: float = 0.03


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator) * (high - low) + low


def augment(images: torch.Tensor, size: int, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """(B, 1, H, W) grey faces in [0, 1] -> (B, 3, size, size) augmented colour images in [0, 1]."""
    n = images.shape[0]
    scale = _uniform(n, *config.scale, generator)
    angle = _uniform(n, -config.rotation_deg, config.rotation_deg, generator) * math.pi / 180
    flip = torch.where(torch.rand(n, generator=generator) < config.flip, -1.0, 1.0)
    shift = _uniform(2 * n, -config.shift, config.shift, generator).reshape(n, 2) * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], -1),
                         torch.stack([sin * flip, cos, shift[:, 1]], -1)], 1)
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    blur = torch.rand(n, generator=generator) < config.blur
    if blur.any():
        low = config.blur_sizes[int(torch.randint(len(config.blur_sizes), (1,), generator=generator))]
        small = F.interpolate(out[blur], size=(low, low), mode="bilinear", antialias=True, align_corners=False)
        out[blur] = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)

    contrast = _uniform(n, *config.contrast, generator)[:, None, None, None]
    brightness = _uniform(n, -config.brightness, config.brightness, generator)[:, None, None, None]
    mean = out.mean((2, 3), keepdim=True)
    out = ((out - mean) * contrast + mean + brightness).clamp(0, 1)
    out = out ** _uniform(n, *config.gamma, generator)[:, None, None, None]
    direction = _uniform(n, 0, 2 * math.pi, generator)
    ramp = torch.linspace(-1, 1, size)
    gradient = (torch.cos(direction)[:, None, None] * ramp[None, None, :]
                + torch.sin(direction)[:, None, None] * ramp[None, :, None])
    out = out * (1 + config.gradient * torch.rand(n, 1, 1, 1, generator=generator) * gradient[:, None])

    tint = 1 + (torch.rand(n, 3, 1, 1, generator=generator) - 0.5) * 0.6
    tint = torch.where((torch.rand(n, 1, 1, 1, generator=generator) < config.tint), tint, torch.ones_like(tint))
    out = out * tint
    out = out + torch.randn(out.shape, generator=generator) * config.noise * torch.rand(n, 1, 1, 1, generator=generator)
    return out.clamp(0, 1)
