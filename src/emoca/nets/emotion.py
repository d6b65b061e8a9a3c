"""The image emotion recogniser behind the perceptual emotion loss.

An ImageNet-pretrained EfficientNet-Lite0 fine-tuned on FER+ (see `emoca.train.emotion`). One fixed
preprocessing serves photos and renders alike: any (B, 1 or 3, H, W) face crop in [0, 1] becomes grey
(ITU-R BT.601 luma) and is resized, antialiased, to `input_size` pixels. Everything is differentiable,
so a loss on `features()` backpropagates into a rendered image.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from emoca.emotions import CIRCUMPLEX, EMOTIONS, FaceEmotion
from emoca.errors import InputError
from emoca.io.atomic import atomic_path
from emoca.nets.backbone import FEATURE_DIM, efficientnet_lite0, imagenet_normalise

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "emotion_fer.safetensors"
LUMA = (0.299, 0.587, 0.114)


@dataclass
class EmotionConfig:
    """input_size: side of the grey square the backbone sees (a multiple of 32); FER+ faces are 48 px
    and are upsampled. dropout: before the heads. pretrained: start from the ImageNet weights.
    mirror_average: `predict` averages the image and its mirror (+0.8 points on FER+ valid)."""

    input_size: int = 64
    dropout: float = 0.2
    pretrained: bool = True
    mirror_average: bool = True


@dataclass
class EmotionOutput:
    """logits/probabilities: (B, 8) over `EMOTIONS`. valence, arousal: (B,) in [-1, 1].
    features: (B, 1280) pooled embedding. va_supervised: whether V/A came from a head trained on
    real V/A labels (else from `CIRCUMPLEX` and the class probabilities)."""

    logits: torch.Tensor
    probabilities: torch.Tensor
    valence: torch.Tensor
    arousal: torch.Tensor
    features: torch.Tensor
    va_supervised: bool


def emotion_output(logits: torch.Tensor, va: torch.Tensor, features: torch.Tensor, va_supervised: bool,
                   circumplex: torch.Tensor) -> EmotionOutput:
    """The record of a recogniser's heads: (B, 8) logits, (B, 2) raw V/A head output (used, through tanh,
    only when `va_supervised`; else V/A = probabilities @ (8, 2) `circumplex`), (B, D) features."""
    probabilities = logits.softmax(-1)
    va = torch.tanh(va) if va_supervised else probabilities @ circumplex
    return EmotionOutput(logits, probabilities, va[:, 0], va[:, 1], features, va_supervised)


def face_emotions(output: EmotionOutput, source: str) -> list[FaceEmotion]:
    """One `FaceEmotion` per row of a recogniser's output (`source`: "image" or "geometry")."""
    probabilities = output.probabilities.detach().cpu().numpy().astype(np.float64)
    return [FaceEmotion(probabilities[i], float(output.valence[i]), float(output.arousal[i]), output.va_supervised,
                        source) for i in range(len(probabilities))]


def to_grey(images: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 1 or 3, H, W) in [0, 1] -> (B, 1, size, size) grey, antialiased resize (differentiable)."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected (B, 1 or 3, H, W) images, got {tuple(images.shape)}")
    if images.shape[1] == 3:
        images = (images * images.new_tensor(LUMA)[None, :, None, None]).sum(1, keepdim=True)
    if images.shape[-2:] != (size, size):
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                               antialias=images.shape[-1] > size)
    return images


class EmotionNet(nn.Module):
    """Emotion recogniser: `forward(images)` -> `EmotionOutput`; `features(images)` -> (B, 1280)."""

    def __init__(self, config: EmotionConfig | None = None) -> None:
        super().__init__()
        self.config = config or EmotionConfig()
        self.backbone = efficientnet_lite0(self.config.input_size, self.config.pretrained)
        self.dropout = nn.Dropout(self.config.dropout)
        self.classifier = nn.Linear(FEATURE_DIM, len(EMOTIONS))
        self.va_head = nn.Linear(FEATURE_DIM, 2)
        self.register_buffer("va_supervised", torch.tensor(False))
        self.register_buffer("circumplex", torch.tensor([CIRCUMPLEX[name] for name in EMOTIONS]))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1 or 3, H, W) face crops in [0, 1] -> (B, 1280) pooled backbone features, the embedding the
        perceptual emotion loss compares."""
        grey = to_grey(images, self.config.input_size)
        return self.backbone.extract_features(imagenet_normalise(grey)).mean((2, 3))

    def heads(self, features: torch.Tensor) -> EmotionOutput:
        """Class and V/A predictions from `features()` output."""
        hidden = self.dropout(features)
        return emotion_output(self.classifier(hidden), self.va_head(hidden), features, bool(self.va_supervised),
                              self.circumplex)

    def forward(self, images: torch.Tensor) -> EmotionOutput:
        return self.heads(self.features(images))

    def predict(self, images: torch.Tensor) -> EmotionOutput:
        """Inference: like `forward`, with the class probabilities (and V/A) averaged over the image and
        its left-right mirror when `config.mirror_average` (emotions do not change in a mirror)."""
        out = self(images)
        if not self.config.mirror_average:
            return out
        mirrored = self(images.flip(-1))
        probabilities = (out.probabilities + mirrored.probabilities) / 2
        if out.va_supervised:
            valence, arousal = (out.valence + mirrored.valence) / 2, (out.arousal + mirrored.arousal) / 2
        else:
            valence, arousal = (probabilities @ self.circumplex).unbind(-1)
        return EmotionOutput((out.logits + mirrored.logits) / 2, probabilities, valence, arousal,
                             (out.features + mirrored.features) / 2, out.va_supervised)


def save_emotion_net(net: EmotionNet, path: Path, extra: dict | None = None) -> None:
    """Write fp16 safetensors with the config (and `extra`) as metadata, atomically."""
    state = {k: v.detach().to(torch.float16) if v.is_floating_point() else v.detach()
             for k, v in net.state_dict().items()}
    metadata = {"config": json.dumps(asdict(net.config)), **{k: json.dumps(v) for k, v in (extra or {}).items()}}
    with atomic_path(Path(path)) as tmp:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata=metadata)


def load_emotion_net(path: str | Path | None = None, device: str | torch.device = "cpu") -> EmotionNet:
    """The trained recogniser (the shipped FER+ weights by default), in eval mode, fp32."""
    path = Path(path) if path else DEFAULT_WEIGHTS
    try:
        with safe_open(str(path), framework="pt") as handle:
            config = EmotionConfig(**{**json.loads(handle.metadata()["config"]), "pretrained": False})
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except (OSError, KeyError, ValueError, json.JSONDecodeError, SafetensorError) as error:
        raise InputError(path, f"not a readable emotion weights file ({error})") from None
    net = EmotionNet(config)
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return net.eval().to(device)
