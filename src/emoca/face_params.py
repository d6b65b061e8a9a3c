"""`FaceParams`: the one record that passes between the stages (DESIGN.md section 1).

Every producer (the fitter, the video pipeline, the regressor) returns one; the decoder
(`emoca.decode.FaceDecoder`) turns it into a mesh, points and colours; `params.json` is written from it.
"""

from dataclasses import dataclass, fields, replace

import torch

Index = int | slice | torch.Tensor | list[int]


@dataclass
class FaceParams:
    """The parameters of B faces, batch-first, each on its own crop (`emoca.detect.crops`).

    identity: (B, K) the person's identity weights (ICT: standard deviations of its PCA modes).
    expression: (B, E) the model's expression (ICT: the 53 blendshape weights in [0, 1]; FLAME: PCA
        coefficients). jaw: (B, 3) axis-angle radians about the jaw joint for models that have one
        (FLAME), else None.
    rotation: (B, 3) head rotation, axis-angle radians about the model origin (model axes, DESIGN.md 3).
    scale: (B,), offset: (B, 2): the weak perspective on the crop, p = scale * (R v)[:2] + offset in
        normalised crop units [-1, 1], y up (`emoca.render.camera.weak_perspective`).
    light: (B, 9, 3) second-order spherical harmonics, RGB.
    colours: (B, R, 3) RGB of the albedo's regions; coefficients: (B, C, 3) of its smooth basis
        (`emoca.decode.albedo.AlbedoModel`).
    refined: (B,) bool, for predictors that check their refinement (`emoca.predictors.emoca`): True where
        the refinement was kept, False where it scored worse than its start and the start was kept; else
        None.
    gaze: (B, 2) [yaw, pitch] radians of both eyes in the head frame (`emoca.decode.gaze`; + yaw to the
        subject's left, + pitch up), set by the pipeline from the iris points; None where not estimated.
    """

    identity: torch.Tensor
    expression: torch.Tensor
    rotation: torch.Tensor
    scale: torch.Tensor
    offset: torch.Tensor
    light: torch.Tensor
    colours: torch.Tensor
    coefficients: torch.Tensor
    jaw: torch.Tensor | None = None
    refined: torch.Tensor | None = None
    gaze: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.identity.shape[0]

    def _map(self, function) -> "FaceParams":
        """A copy with `function` applied to every tensor (None fields stay None)."""
        return FaceParams(**{part.name: None if getattr(self, part.name) is None else function(getattr(self, part.name))
                             for part in fields(self)})

    def to(self, device: torch.device | str) -> "FaceParams":
        return self._map(lambda tensor: tensor.to(device))

    def detach(self) -> "FaceParams":
        return self._map(torch.Tensor.detach)

    def clone(self) -> "FaceParams":
        return self._map(torch.Tensor.clone)

    def __getitem__(self, index: Index) -> "FaceParams":
        """Rows of the batch; an int keeps the batch dimension (a batch of one)."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return self._map(lambda tensor: tensor[index])

    @classmethod
    def concat(cls, parts: list["FaceParams"]) -> "FaceParams":
        """One batch of the faces of `parts`, in order."""
        return cls(**{part.name: None if getattr(parts[0], part.name) is None
                      else torch.cat([getattr(p, part.name) for p in parts]) for part in fields(cls)})

    def replace(self, **changes: torch.Tensor | None) -> "FaceParams":
        """A copy with some fields replaced (tensors are shared, not copied)."""
        return replace(self, **changes)

    def with_identity(self, identity: torch.Tensor) -> "FaceParams":
        """A copy whose every face has `identity` ((K,) or (B, K))."""
        return self.replace(identity=identity.reshape(-1, identity.shape[-1]).expand(len(self), -1))
