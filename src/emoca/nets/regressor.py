"""The EMOCA regressor as a `Predictor`: crop + detected points -> `FaceParams` in one network pass.

Stage 1 (`regressor_coarse.safetensors`) gives every parameter; stage 2 (`regressor_expression
.safetensors`, EMOCA's expression encoder trained with the emotion-consistency loss) replaces the
expression when present, and the identity head (`regressor_identity.safetensors`, distilled from the
fitter's identities, `emoca.nets.identity_head`) the identity. The stages are trained by `python -m
emoca.train.regressor`, the identity head by `python -m emoca.train.identity_head` (ICT only: the
weights are for ICT's 100 identity modes and 53 blendshapes).
"""

import copy
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from emoca.face_params import FaceParams
from emoca.nets.backbone import with_batch_norms_folded
from emoca.nets.emotion import EmotionNet, load_emotion_net
from emoca.nets.encoders import IMAGE_INPUTS, TRUNK_SIZE, CoarseEncoder, ExpressionEncoder, HeadConfig, Trunk
from emoca.nets.identity_head import WEIGHTS as IDENTITY_WEIGHTS
from emoca.nets.identity_head import IdentityHead, load_identity_head
from emoca.nets.weights_file import read_weights

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
COARSE_WEIGHTS = WEIGHTS / "regressor_coarse.safetensors"
EXPRESSION_WEIGHTS = WEIGHTS / "regressor_expression.safetensors"
RETRAIN = "retrain it with `python -m emoca.train.regressor` (see its model card)"


def read_head(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(fp32 state, metadata) of a regressor weights file; `InputError` (saying how to retrain) if
    missing or unreadable."""
    return read_weights(path, RETRAIN)


def coarse_from_metadata(metadata: dict) -> CoarseEncoder:
    """An untrained coarse encoder of the sizes `metadata` records."""
    sizes = metadata["sizes"]
    return CoarseEncoder(sizes["identity"], sizes["expression"], sizes["colours"] // 3, sizes["coefficients"] // 3,
                         HeadConfig(**metadata["head"]))


def coarse_metadata(coarse: CoarseEncoder, extra: dict) -> dict:
    return {"sizes": coarse.sizes, "head": asdict(coarse.config), **extra}


class Regressor(nn.Module):
    """trunk + coarse encoder (+ expression encoder) (+ identity head) (+ the frozen emotion recogniser,
    when the expression encoder reads its features). `forward(images, points)` -> `FaceParams`. images:
    (B, 3, S, S) crops in [0, 1]; points: (B, 546, 2) from `normalised_points`."""

    def __init__(self, trunk: Trunk, coarse: CoarseEncoder, expression: ExpressionEncoder | None = None,
                 identity: IdentityHead | None = None, emotion: EmotionNet | None = None) -> None:
        super().__init__()
        self.trunk, self.coarse, self.expression, self.identity = trunk, coarse, expression, identity
        if self.reads_emotion and emotion is None:
            raise ValueError("the expression encoder reads the emotion recogniser's features: pass `emotion`")
        self.emotion = emotion.requires_grad_(False) if emotion is not None else None

    @property
    def reads_emotion(self) -> bool:
        return self.expression is not None and self.expression.reads_emotion

    def from_stem(self, stem: torch.Tensor, points: torch.Tensor,
                  photo_emotion: torch.Tensor | None = None) -> FaceParams:
        """`FaceParams` from (B, 192, 4, 4) trunk stem features (cached in training), the points and, for an
        expression encoder that reads them, the recogniser's (B, 1280) features of the crop (cached too)."""
        features = self.trunk.tail(stem)
        params = self.coarse(features, points)
        if self.expression is not None:
            own = stem if self.expression.tail is not None else features
            params = params.replace(expression=self.expression(own, points, photo_emotion))
        return params if self.identity is None else params.replace(identity=self.identity(points))

    def forward(self, images: torch.Tensor, points: torch.Tensor) -> FaceParams:
        """The recogniser reads the crop at `TRUNK_SIZE` px, as the training cache computed its features
        (`emoca.train.regressor_data`)."""
        if images.shape[-1] != TRUNK_SIZE:
            images = nn.functional.interpolate(images, size=(TRUNK_SIZE, TRUNK_SIZE), mode="bilinear",
                                               antialias=True, align_corners=False)
        photo_emotion = self.emotion.features(images) if self.reads_emotion else None
        return self.from_stem(self.trunk.stem(images), points, photo_emotion)

    @classmethod
    def load(cls, coarse_path: Path = COARSE_WEIGHTS, expression_path: Path | None = EXPRESSION_WEIGHTS,
             identity_path: Path | None = IDENTITY_WEIGHTS) -> "Regressor":
        """The shipped (or given) weights for inference: eval mode, the batch norms of the trunk and the
        recogniser folded (not for training). No expression encoder when `expression_path` is None, the
        coarse encoder's identity when `identity_path` is None. Raises `InputError` naming a missing or
        unreadable file."""
        state, metadata = read_head(coarse_path)
        coarse = coarse_from_metadata(metadata)
        coarse.load_state_dict(state)
        trunk, expression = Trunk(), None
        if expression_path is not None:
            expression_state, expression_metadata = read_head(expression_path)
            tail = copy.deepcopy(trunk.tail) if expression_metadata.get("own_tail") else None
            inputs = tuple(expression_metadata.get("inputs", IMAGE_INPUTS))
            expression = ExpressionEncoder(coarse.sizes["expression"], coarse.config, tail, inputs)
            expression.load_state_dict(expression_state)
            if tail is not None:
                tail.fold_batch_norm()
        trunk.fold_batch_norm()
        identity = None if identity_path is None else load_identity_head(identity_path)
        reads_emotion = expression is not None and expression.reads_emotion
        emotion = with_batch_norms_folded(load_emotion_net()) if reads_emotion else None
        return cls(trunk, coarse, expression, identity, emotion).eval()
