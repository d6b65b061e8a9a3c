"""Grey photos give grey faces: a black-and-white photo says nothing about hue, so the appearance fitted
to it (region colours, the albedo's smooth variation, the spherical-harmonics light) is made grey,
each channel set to the mean of the three, instead of the green or purple cast that the free RGB
channels of albedo and light otherwise trade between them."""

import torch

from emoca.face_params import FaceParams
from emoca.targets import FaceTargets

GREY_TOLERANCE = 2 / 255  # a crop is grey when no pixel's channels differ by more than this


def is_grey(targets: FaceTargets) -> torch.Tensor:
    """(B,) bool: the face crops (B, 3, S, S) whose every pixel has equal channels (within the tolerance)."""
    images = targets.images
    return (images.amax(1) - images.amin(1)).flatten(1).amax(1) <= GREY_TOLERANCE


def greyed(params: FaceParams, targets: FaceTargets) -> FaceParams:
    """`params` with the appearance of the faces whose crops are grey made grey (unchanged otherwise)."""
    grey = is_grey(targets).to(params.light.device)
    if not bool(grey.any()):
        return params

    def mean_channel(values: torch.Tensor) -> torch.Tensor:
        return torch.where(grey.view(-1, *[1] * (values.dim() - 1)), values.mean(-1, keepdim=True).expand_as(values),
                           values)

    return params.replace(light=mean_channel(params.light), colours=mean_channel(params.colours),
                          coefficients=mean_channel(params.coefficients))
