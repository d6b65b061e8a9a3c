"""From the crop the fit works in back to the input photo: cameras and renders in input pixels."""

import numpy as np
import torch

from emoca.render.camera import weak_perspective


def screen_in_image(vertices: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor, crop_size: int,
                    to_input: np.ndarray) -> torch.Tensor:
    """(B, V, 4) screen vertices in input-image pixels for a weak perspective fitted on crops.

    `to_input`: (B, 2, 3) crop-to-input affine maps (pixel-index frames, see `emoca.detect.crops`).
    The crop maps are a uniform scale plus shift, so depth scales with them and visibility is kept.
    """
    screen = weak_perspective(vertices, scale, offset, (crop_size, crop_size))
    matrix = torch.as_tensor(to_input, dtype=screen.dtype)
    xy = torch.einsum("bij,bvj->bvi", matrix[:, :, :2], screen[..., :2] - 0.5) + matrix[:, None, :, 2] + 0.5
    step = matrix[:, 0, 0][:, None, None]
    return torch.cat([xy, screen[..., 2:3] * step, screen[..., 3:]], -1)
