"""The regressor as a `Predictor`: one forward pass of `emoca.nets.regressor.Regressor` per batch, the
camera solved again where the identity is replaced."""

import torch

from emoca.decode.decoder import FaceDecoder
from emoca.face_params import FaceParams
from emoca.nets.encoders import normalised_points
from emoca.nets.regressor import Regressor
from emoca.predictors.brow_colour import with_brow_colour
from emoca.predictors.camera import fit_camera
from emoca.predictors.grey import greyed
from emoca.targets import FaceTargets


class RegressorPredictor:
    """The `emoca.predictors.protocol.Predictor` of a `Regressor` (CPU or any device; no iteration, so `init` and
    `anchor` are not used; `shared_identity` averages the batch's identities; `identity` replaces them).
    With a `decoder`, the camera is solved again for the final identity (`emoca.predictors.camera`)
    whenever the identity is not the coarse encoder's own."""

    def __init__(self, regressor: Regressor, crop_size: int, device: str = "cpu",
                 decoder: FaceDecoder | None = None) -> None:
        self.regressor = regressor.to(device).eval()
        self.crop_size, self.device, self.decoder = crop_size, torch.device(device), decoder

    def per_frame(self, steps: tuple[int, int, int, int]) -> "RegressorPredictor":
        """Itself: each frame is predicted afresh (`emoca.predictors.protocol.Predictor.per_frame`)."""
        return self

    def predict(self, targets: FaceTargets, init: FaceParams | None = None, anchor: FaceParams | None = None,
                identity: torch.Tensor | None = None, shared_identity: bool = False) -> FaceParams:
        targets = targets.to(self.device)
        with torch.no_grad():
            params = self.regressor(targets.images, normalised_points(targets.landmarks_68, targets.dense,
                                                                      self.crop_size))
            params = greyed(with_brow_colour(params, targets), targets).to("cpu")
        if identity is not None:
            params = params.with_identity(identity.cpu())
        elif shared_identity:
            params = params.with_identity(params.identity.mean(0))
        if self.decoder is None or (identity is None and not shared_identity and self.regressor.identity is None):
            return params
        device = self.decoder.device
        with torch.no_grad():
            return fit_camera(self.decoder, params.to(device), targets.to(device)).to("cpu")
