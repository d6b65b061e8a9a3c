"""Emotion from geometry: the 8 classes and valence/arousal from a face's expression parameters alone.

EMOCA's second claim: if the reconstruction carries the emotion, a small network on its expression
parameters (no pixels) recognises the emotion. The input is the 53 ICT expression weights in [0, 1]
(`FaceParams.expression`); head pose and identity are left out on purpose: a head tilt or a face
shape is not an emotion, and a recogniser that used them would learn the data sets' people and
framing rather than their expressions. V/A come from the class probabilities through `CIRCUMPLEX`
(`va_supervised` False) until a head is trained on real V/A labels.

Weights: one file per reconstruction method, because each method's expressions have their own
distribution (`python -m emoca.train.geometry_emotion`; model card `weights/geometry_emotion.md`).
"""

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from emoca.emotions import CIRCUMPLEX, EMOTIONS
from emoca.nets.emotion import EmotionOutput, emotion_output
from emoca.nets.weights_file import read_weights, save_weights

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
GEOMETRY_WEIGHTS = {"regress": WEIGHTS / "geometry_emotion_regress.safetensors",
                    "fit": WEIGHTS / "geometry_emotion_fit.safetensors"}
"""The shipped head of each reconstruction method that has one (`regress+fit` uses the fitter's: its
expressions come out of the fitter's losses; `regress+identity` the regressor's: it keeps the regressor's
expressions)."""


def head_file(method: str) -> Path | None:
    """The shipped head a reconstruction method uses (None: it has none)."""
    shared = {"regress+fit": "fit", "regress+identity": "regress", "emoca": "regress"}
    return GEOMETRY_WEIGHTS.get(shared.get(method, method))


RETRAIN = "retrain it with `python -m emoca.train.geometry_emotion` (see weights/geometry_emotion.md)"


@dataclass
class GeometryEmotionConfig:
    """inputs: expression parameters per face (53 ICT weights; 52 for MediaPipe's blendshapes in the
    benchmark). hidden/layers: the MLP's width and depth (SiLU). dropout: after each hidden layer."""

    inputs: int = 53
    hidden: int = 128
    layers: int = 2
    dropout: float = 0.3


class GeometryEmotionNet(nn.Module):
    """(B, inputs) expression parameters -> `EmotionOutput` (features: the last hidden layer). Inputs are
    standardised with the training set's mean and spread (buffers, saved with the weights)."""

    def __init__(self, config: GeometryEmotionConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GeometryEmotionConfig()
        layers: list[nn.Module] = []
        width = config.inputs
        for _ in range(config.layers):
            layers += [nn.Linear(width, config.hidden), nn.SiLU(), nn.Dropout(config.dropout)]
            width = config.hidden
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, len(EMOTIONS))
        self.va_head = nn.Linear(width, 2)
        self.register_buffer("mean", torch.zeros(config.inputs))
        self.register_buffer("spread", torch.ones(config.inputs))
        self.register_buffer("va_supervised", torch.tensor(False))
        self.register_buffer("circumplex", torch.tensor([CIRCUMPLEX[name] for name in EMOTIONS]))

    def forward(self, expression: torch.Tensor) -> EmotionOutput:
        if expression.dim() != 2 or expression.shape[1] != self.config.inputs:
            raise ValueError(f"expected (B, {self.config.inputs}) expression parameters, got {tuple(expression.shape)}")
        hidden = self.body((expression - self.mean) / self.spread)
        return emotion_output(self.classifier(hidden), self.va_head(hidden), hidden, bool(self.va_supervised),
                              self.circumplex)


def save_geometry_emotion(net: GeometryEmotionNet, path: Path, extra: dict) -> None:
    """fp16 safetensors with the config and `extra` (data, figures) as metadata."""
    save_weights(net, path, {"config": asdict(net.config), **extra})


def load_geometry_emotion(path: Path) -> GeometryEmotionNet:
    """A saved head, eval mode. Raises `InputError` naming a missing or unreadable file."""
    state, metadata = read_weights(path, RETRAIN)
    net = GeometryEmotionNet(GeometryEmotionConfig(**metadata["config"]))
    net.load_state_dict(state)
    return net.eval()
