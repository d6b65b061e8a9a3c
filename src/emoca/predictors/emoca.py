"""`--method emoca`: EMOCA's emotion-consistency loss at test time, starting from the regressor.

The regressor (`emoca.predictors.regressor`) gives the start; a short fit (`emoca.predictors.fitter`)
puts pose, identity and expression on the landmarks with the expression held near the regressor's
(`LossWeights.start_expression`), fits light and albedo, then the emotion stage moves the expression alone
under the landmarks and the emotion-consistency term (our recogniser's features of the render vs the
photo's). A face the refinement makes worse than its start, by the recogniser's distance or by the landmark
error, keeps the start (`EmotionRefinement.kept_start` says which faces did).
"""

import torch

from emoca.decode.decoder import FaceDecoder
from emoca.face_params import FaceParams
from emoca.predictors.emotion_term import EmotionConsistency
from emoca.predictors.fitter import PhotoFitter
from emoca.predictors.objective import PhotometricTargets, landmark_losses
from emoca.predictors.protocol import Predictor
from emoca.targets import FaceTargets


class EmotionRefinement:
    """A `Predictor`: `first`'s result refined by `fitter` (whose config has an emotion stage), each face
    kept at its start where the refinement scores worse (see the module docstring)."""

    def __init__(self, first: Predictor, fitter: PhotoFitter, emotion: EmotionConsistency) -> None:
        self.first, self.fitter, self.emotion = first, fitter, emotion
        self.kept_start = torch.zeros(0, dtype=torch.bool)  # (B,) of the last batch: True where the start was kept

    def predict(self, targets: FaceTargets, init: FaceParams | None = None, anchor: FaceParams | None = None,
                identity: torch.Tensor | None = None, shared_identity: bool = False) -> FaceParams:
        start = self.first.predict(targets, identity=identity, shared_identity=shared_identity)
        refined = self.fitter.predict(targets, init=start, anchor=anchor, identity=identity,
                                      shared_identity=shared_identity)
        decoder = self.fitter.decoder
        worse = torch.stack([a > b * 1.0001 for a, b in zip(self.scores(decoder, refined, targets),
                                                              self.scores(decoder, start, targets), strict=True)])
        self.kept_start = worse.any(0).cpu()
        if not self.kept_start.any():
            return refined
        rows = [start[i] if kept else refined[i] for i, kept in enumerate(self.kept_start.tolist())]
        return FaceParams.concat(rows)

    def scores(self, decoder: FaceDecoder, params: FaceParams, targets: FaceTargets
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) the recogniser's feature distance of the render (at the fitter's emotion size, over the photo)
        from the photo, and (B,) the landmark terms' sum (in the fitter's weights), lower is better."""
        size = self.fitter.config.emotion_render_size
        device = decoder.device
        targets = targets.to(device)
        with torch.no_grad():
            params = params.to(device)
            photometric = PhotometricTargets.of(targets, size)
            decoded = decoder.decode(params)
            rendered = decoder.render(params, decoded, size, background=photometric.photo)
            distance = self.emotion(rendered.image, self.emotion.target(photometric.photo))
            landmarks = sum(landmark_losses(decoded, targets, self.fitter.config.weights).values())
        return distance.cpu(), landmarks.cpu()
