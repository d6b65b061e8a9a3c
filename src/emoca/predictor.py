"""The seam between "faces in" and "parameters out": anything that turns `FaceTargets` into `FaceParams`.

Implemented by the fitter (`emoca.fit.photo.PhotoFitter`); the regressor plugs in here too, and a
regressor's guess can be handed to the fitter as its `init`.
"""

from typing import Protocol

import torch

from emoca.face_params import FaceParams
from emoca.targets import FaceTargets


class Predictor(Protocol):
    """`predict(targets, init=None, anchor=None, identity=None, shared_identity=False) -> FaceParams`.

    init: a starting guess (ignored by predictors that do not iterate). anchor: stay near these
    parameters (video: the previous frame). identity: (K,) a known identity to keep. shared_identity:
    the batch is one person (video frames): one identity for all. Results are CPU tensors on the
    targets' crops."""

    def predict(self, targets: FaceTargets, init: FaceParams | None = None, anchor: FaceParams | None = None,
                identity: torch.Tensor | None = None, shared_identity: bool = False) -> FaceParams: ...
