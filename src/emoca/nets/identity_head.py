"""The regressor's identity from the detected points: an affine map distilled from the fitter.

The coarse encoder's own identity (through frozen ImageNet features) does not separate people. The
fitter's does, from the landmarks; this head maps the same detected points (the 68 + 478 of
`normalised_points`, flattened) to ICT's identity coefficients by ridge regression on the fitter's
identities (`python -m emoca.train.identity_head`, model card `weights/identity_head.md`). Its
weights file is `weights/regressor_identity.safetensors`; the regressor uses it where present.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from emoca.nets.weights_file import read_weights, save_weights

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "regressor_identity.safetensors"
RETRAIN = "retrain it with `python -m emoca.train.identity_head` (see weights/identity_head.md)"


class IdentityHead(nn.Module):
    """(B, P, 2) normalised points -> (B, K) identity (standard deviations): standardised inputs, one
    linear layer."""

    def __init__(self, n_points: int = 546, n_identity: int = 100) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(2 * n_points))
        self.register_buffer("scale", torch.ones(2 * n_points))
        self.linear = nn.Linear(2 * n_points, n_identity)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.linear((points.flatten(1) - self.mean) / self.scale)


@dataclass
class RidgeFit:
    """A ridge regression's parts: inputs standardised by (mean, scale), then `weight` (D, K) and `bias` (K,)."""

    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: np.ndarray

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        return ((inputs - self.mean) / self.scale) @ self.weight + self.bias


def fit_ridge(inputs: np.ndarray, targets: np.ndarray, penalty: float, weights: np.ndarray | None = None
              ) -> RidgeFit:
    """Weighted least squares of (N, K) `targets` on (N, D) standardised `inputs` plus `penalty` times
    the squared weights (the bias is not penalised); `weights` (N,): each row's weight (default 1)."""
    weights = np.ones(len(inputs)) if weights is None else np.asarray(weights, np.float64)
    share = (weights / weights.sum())[:, None]
    mean = (share * inputs).sum(0)
    scale = np.sqrt((share * (inputs - mean) ** 2).sum(0)) + 1e-6
    standard = (inputs - mean) / scale
    bias = (share * targets).sum(0)
    weighted = standard * weights[:, None]
    weight = np.linalg.solve(weighted.T @ standard + penalty * np.eye(standard.shape[1]),
                             weighted.T @ (targets - bias))
    return RidgeFit(mean, scale, weight, bias)


def head_of(fit: RidgeFit) -> IdentityHead:
    """The `IdentityHead` computing `fit`."""
    head = IdentityHead(len(fit.mean) // 2, fit.weight.shape[1])
    with torch.no_grad():
        head.mean.copy_(torch.as_tensor(fit.mean))
        head.scale.copy_(torch.as_tensor(fit.scale))
        head.linear.weight.copy_(torch.as_tensor(fit.weight.T))
        head.linear.bias.copy_(torch.as_tensor(fit.bias))
    return head


def save_identity_head(head: IdentityHead, path: Path, metadata: dict) -> None:
    save_weights(head, path, {"sizes": {"points": head.mean.numel() // 2, "identity": head.linear.out_features},
                              **metadata})


def load_identity_head(path: Path = WEIGHTS) -> IdentityHead:
    """The head of `path`, eval mode. Raises `InputError` naming a missing or unreadable file."""
    state, metadata = read_weights(path, RETRAIN)
    head = IdentityHead(metadata["sizes"]["points"], metadata["sizes"]["identity"])
    head.load_state_dict(state)
    return head.eval()
