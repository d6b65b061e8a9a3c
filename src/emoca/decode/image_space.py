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


def camera_between_crops(scale: torch.Tensor, offset: torch.Tensor, from_input: np.ndarray, to_input: np.ndarray,
                         crop_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The same weak perspective expressed in another crop of the same image (video: the previous
    frame's camera as the next frame's start).

    Args:
        scale: (B,), offset: (B, 2): a weak perspective on the crop whose crop-to-input map is
            `from_input` (B, 2, 3). to_input: (B, 2, 3) the other crop's map (both a uniform scale plus
            shift, as `emoca.detect.crops` makes them).
    Returns:
        (scale, offset) on the other crop: projections land on the same input pixels.
    """
    source, target = torch.as_tensor(from_input, dtype=scale.dtype), torch.as_tensor(to_input, dtype=scale.dtype)
    ratio = source[:, 0, 0] / target[:, 0, 0]  # crop pixels of the target per crop pixel of the source
    shift = 2 * (source[:, :, 2] - target[:, :, 2]) / target[:, 0, 0, None] / crop_size  # normalised units
    rest = (1 - ratio) * (1 - 1 / crop_size)
    new_offset = torch.stack([ratio * offset[:, 0] - rest + shift[:, 0], ratio * offset[:, 1] + rest - shift[:, 1]], -1)
    return ratio * scale, new_offset
