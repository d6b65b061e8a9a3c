"""EMOCA's perceptual emotion-consistency loss: the reconstruction must look as emotional as the photo.

The emotion recogniser (`emoca.nets.emotion.EmotionNet`, frozen) embeds the photo crop and the render of
the reconstruction; the loss is the cosine distance between the two `features()` (1 - cos, in [0, 2]).
Cosine, not L2: the recogniser's feature norm grows with image contrast, which a render with our simple
albedo and SH light does not match, while the direction carries the expression.

The render is the reconstruction with its own predicted albedo and light, composited over the input
crop (the recogniser was trained on whole face crops with hair and background: keeping them identical
means the only difference between the two images is the face, which is what the loss should judge;
a render on black would also teach the loss that a black surround looks "neutral" or "fearful").

`compare` adds the recogniser's class view of the same two images: the KL divergence of the render's
class distribution from the photo's (the cosine alone can be small while the most likely class differs)
and whether the two most likely classes agree (a validation figure from our own recogniser).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from emoca.last_result import LastResult
from emoca.nets.backbone import with_batch_norms_folded
from emoca.nets.emotion import EmotionNet


@dataclass
class EmotionComparison:
    """One batch's photo-vs-render comparison, each (B,): `distance` 1 - cos of the features, `divergence`
    KL(photo classes || render classes) in nats, `agrees` whether the most likely classes are equal."""

    distance: torch.Tensor
    divergence: torch.Tensor
    agrees: torch.Tensor


class EmotionConsistency:
    """`loss(rendered, photo_features)` -> (B,) cosine distance; `target(photos)` gives the photos'
    features (computed once per photo, no gradient). It works on a frozen copy of the recogniser in eval
    mode, its BatchNorms folded into the convolutions (`emoca.nets.backbone.with_batch_norms_folded`: the
    same features up to float rounding, about a fifth less time forward and backward); `net` is untouched."""

    def __init__(self, net: EmotionNet) -> None:
        self.net = with_batch_norms_folded(net)
        self._photo_features: LastResult[torch.Tensor] = LastResult()

    def target(self, photos: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) crops in [0, 1] -> (B, 1280) features. The last photos' features are kept (compared by
        value): `emoca`'s fit and its before/after scores ask for the same photos' once."""
        return self._photo_features(photos, lambda: self._features_without_gradient(photos))

    def _features_without_gradient(self, photos: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.net.features(photos)

    def __call__(self, rendered: torch.Tensor, photo_features: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) renders composited over their crops, (B, 1280) photo features -> (B,)."""
        return 1 - F.cosine_similarity(self.net.features(rendered), photo_features.float(), dim=-1)

    def compare(self, rendered: torch.Tensor, photo_features: torch.Tensor) -> EmotionComparison:
        """`__call__`'s distance with the class divergence and agreement (the recogniser's classifier on
        both feature vectors, without dropout)."""
        rendered_features, photo_features = self.net.features(rendered), photo_features.float()
        render_log = F.log_softmax(self.net.classifier(rendered_features), -1)
        photo_log = F.log_softmax(self.net.classifier(photo_features), -1)
        divergence = (photo_log.exp() * (photo_log - render_log)).sum(-1)
        return EmotionComparison(1 - F.cosine_similarity(rendered_features, photo_features, dim=-1), divergence,
                                 render_log.argmax(-1) == photo_log.argmax(-1))
