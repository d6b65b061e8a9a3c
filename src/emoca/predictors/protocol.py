"""The seam between "faces in" and "parameters out": anything that turns `FaceTargets` into `FaceParams`.

Implemented by the fitter (`emoca.predictors.fitter.PhotoFitter`); the regressor plugs in here too, and a
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

    def per_frame(self, steps: tuple[int, int, int, int]) -> "Predictor":
        """The predictor a video uses for its frames after the first ones (which settle the identity):
        iterating predictors shorten their fit to `steps` (pose, shape, appearance, emotion: the last only
        where the predictor has an emotion stage); others are themselves."""
        ...


class Refined:
    """One predictor's result refined by another: `first` (e.g. the regressor) gives the start, `then`
    (e.g. a short fit) starts from it (`init`) and keeps the caller's `anchor` and identity choices."""

    def __init__(self, first: Predictor, then: Predictor) -> None:
        self.first, self.then = first, then

    def predict(self, targets: FaceTargets, init: FaceParams | None = None, anchor: FaceParams | None = None,
                identity: torch.Tensor | None = None, shared_identity: bool = False) -> FaceParams:
        start = self.first.predict(targets, identity=identity, shared_identity=shared_identity)
        return self.then.predict(targets, init=start, anchor=anchor, identity=identity, shared_identity=shared_identity)

    def per_frame(self, steps: tuple[int, int, int, int]) -> "Refined":
        return Refined(self.first.per_frame(steps), self.then.per_frame(steps))
