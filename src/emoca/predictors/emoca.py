"""`--method emoca`: EMOCA's emotion-consistency loss at test time, starting from the regressor.

The regressor (`emoca.predictors.regressor`) gives the start; a short fit (`emoca.predictors.fitter`)
puts pose and expression on the landmarks (the identity stays the regressor's, `FitConfig.hold_identity`)
with the expression held near the regressor's
(`LossWeights.start_expression`), fits light and albedo, then the emotion stage moves the expression alone
under the landmarks and the emotion-consistency term (our recogniser's features of the render vs the
photo's). A face the refinement makes worse than its start, by the recogniser's distance or by the landmark
error, keeps the start (`FaceParams.refined` says which faces did not). A video's later frames
(`per_frame`) are not checked: their fit is anchored to the previous frame, and falling back to each
frame's fresh regressor start made the head jump between two solutions (docs/emoca_method.md, video).
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
    """A `Predictor`: `first`'s result refined by `fitter` (whose config has an emotion stage); when
    `checked`, each face kept at its start where the refinement scores worse (see the module docstring)."""

    def __init__(self, first: Predictor, fitter: PhotoFitter, emotion: EmotionConsistency, checked: bool = True
                 ) -> None:
        self.first, self.fitter, self.emotion, self.checked = first, fitter, emotion, checked

    def per_frame(self, steps: tuple[int, int, int, int]) -> "EmotionRefinement":
        """The same refinement with the fit shortened to `steps` and no check (a video's later frames)."""
        return EmotionRefinement(self.first.per_frame(steps), self.fitter.per_frame(steps), self.emotion, False)

    def predict(self, targets: FaceTargets, init: FaceParams | None = None, anchor: FaceParams | None = None,
                identity: torch.Tensor | None = None, shared_identity: bool = False) -> FaceParams:
        start = self.first.predict(targets, identity=identity, shared_identity=shared_identity)
        refined = self.fitter.predict(targets, init=start, anchor=anchor, identity=identity,
                                      shared_identity=shared_identity)
        if not self.checked:
            return refined
        decoder = self.fitter.decoder
        device_targets = targets.to(decoder.device)
        single = PhotometricTargets.of(device_targets, self.fitter.config.emotion_render_size)
        photo = self.emotion.target(single.photo).repeat(2, 1)
        # refined, then start: one pass over both
        both = FaceTargets.concat([device_targets, device_targets])
        photometric = PhotometricTargets(single.photo.repeat(2, 1, 1, 1), single.mask.repeat(2, 1, 1, 1))
        scores = self.scores(decoder, FaceParams.concat([refined, start]), both, photometric, photo)
        worse = torch.stack([after > before * 1.0001 for after, before in (score.chunk(2) for score in scores)]).any(0)
        kept = ~worse
        rows = [refined[i] if keep else start[i] for i, keep in enumerate(kept.tolist())]
        return FaceParams.concat(rows).replace(refined=kept)

    def scores(self, decoder: FaceDecoder, params: FaceParams, targets: FaceTargets, photometric: PhotometricTargets,
               photo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) the recogniser's feature distance of the render (at `photometric`'s size, over the photo) from
        the `photo` features, and (B,) the landmark terms' sum (in the fitter's weights); lower is better."""
        with torch.no_grad():
            params = params.to(decoder.device)
            decoded = decoder.decode(params)
            rendered = decoder.render(params, decoded, photometric.photo.shape[-1], background=photometric.photo)
            distance = self.emotion(rendered.image, photo)
            landmarks = sum(landmark_losses(decoded, targets, self.fitter.config.weights).values())
        return distance.cpu(), landmarks.cpu()
