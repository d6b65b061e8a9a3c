"""EMOCA's perceptual emotion-consistency loss: the reconstruction must look as emotional as the photo.

The emotion recogniser (`emoca.nets.emotion.EmotionNet`, frozen) embeds the photo crop and the render of
the reconstruction; the loss is the cosine distance between the two `features()` (1 - cos, in [0, 2]).
Cosine, not L2: the recogniser's feature norm grows with image contrast, which a render with our simple
albedo and SH light does not match, while the direction carries the expression.

The render is the reconstruction with its own predicted albedo and light, composited over the input
crop (the recogniser was trained on whole face crops with hair and background: keeping them identical
means the only difference between the two images is the face, which is what the loss should judge;
a render on black would also teach the loss that a black surround looks "neutral" or "fearful").
"""

import torch
import torch.nn.functional as F

from emoca.nets.emotion import EmotionNet


class EmotionConsistency:
    """`loss(rendered, photo_features)` -> (B,) cosine distance; `target(photos)` gives the photos'
    features (computed once per photo, no gradient). The recogniser is frozen and in eval mode."""

    def __init__(self, net: EmotionNet) -> None:
        self.net = net.eval()
        self.net.requires_grad_(False)

    def target(self, photos: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) crops in [0, 1] -> (B, 1280) features."""
        with torch.no_grad():
            return self.net.features(photos)

    def __call__(self, rendered: torch.Tensor, photo_features: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) renders composited over their crops, (B, 1280) photo features -> (B,)."""
        return 1 - F.cosine_similarity(self.net.features(rendered), photo_features.float(), dim=-1)
