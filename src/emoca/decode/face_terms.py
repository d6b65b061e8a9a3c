"""What the photo fitter needs from each face model, one class per model.

The fitter optimises one expression vector per face; its meaning, bounds and prior depend on the model:

* ICT (`ICTTerms`): the 53 blendshape weights, kept in [0, 1], with an L1 (sparsity) prior. ICT also
  brings two learned corrections: expression correctives (`emoca.decode.expression_correctives`: the mesh
  is posed at `mesh_identity`) and jaw offsets (`emoca.decode.jaw_contour.shift_along_outline`).
* FLAME (`FLAMETerms`): the PCA expression coefficients (unit Gaussian prior, kept within
  +-`FLAMETerms.COEFFICIENT_LIMIT` standard deviations) followed by the jaw joint's axis-angle rotation
  (3 values, radians; +x opens the mouth). FLAME opens the mouth with the jaw joint, not with an
  expression shape, so the jaw is fitted with the expression and kept in a box of plausible motion
  (`JAW_LOW`..`JAW_HIGH`: opening 0 to 0.6 rad, sideways and twist within 0.15 rad).

Both give the posed mesh, the landmark points the losses read, the unposed mesh that is exported and
the expression fields of `params.json`.
"""

from abc import ABC, abstractmethod
from pathlib import Path

import torch

from emoca.decode.expression_correctives import CORRECTIVES, load_correctives
from emoca.decode.jaw_contour import ICT_JAW_OFFSETS, load_jaw_offsets
from emoca.facemodel.base import FaceModel
from emoca.facemodel.flame import FLAMEFaceModel
from emoca.facemodel.geometry import rigid_transform
from emoca.facemodel.ict import LANDMARK_EMBEDDING, ICTFaceModel
from emoca.last_result import LastResult
from emoca.losses.priors import gaussian_prior, sparsity_prior

LandmarkPoints = tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]


def _move_tensors(holder: object, device: torch.device) -> None:
    """Replace every tensor attribute of `holder` by its copy on `device`."""
    for name, value in list(vars(holder).items()):
        if isinstance(value, torch.Tensor):
            setattr(holder, name, value.to(device))


class FaceTerms(ABC):
    """The model-specific part of fitting; subclasses fill `name` and the abstract methods.

    Shapes (B = batch): identity (B, model.n_identity); expression (B, n_expression); rotation (B, 3)
    axis-angle radians about the model origin. Vertices are in the model's units, model axes.
    """

    name: str
    model: FaceModel
    jaw_candidates: torch.Tensor  # (C,) vertex ids the jawline silhouette is chosen from
    jaw_offsets: torch.Tensor | None = None  # (17, 2) learned shifts of the jaw points from the silhouette

    @property
    @abstractmethod
    def n_expression(self) -> int:
        """Length of the fitted expression vector."""

    @abstractmethod
    def bound(self, expression: torch.Tensor) -> None:
        """Project (B, n_expression) onto the allowed range, in place (after every optimiser step)."""

    @abstractmethod
    def expression_prior(self, expression: torch.Tensor) -> torch.Tensor:
        """(B,) prior energy of the expression vector (summed over its entries)."""

    @abstractmethod
    def posed(self, identity: torch.Tensor, expression: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) every vertex of the render mesh, rotated (no translation)."""

    def mesh_identity(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """(B, K) the identity weights the model's own forward needs to give the fitted mesh (the same
        as `identity` unless the terms add expression correctives)."""
        return identity

    def unposed(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) the face with its expression and no head rotation (what `mesh.obj` holds)."""
        return self.posed(identity, expression, identity.new_zeros(identity.shape[0], 3))

    def landmark_points(self, identity: torch.Tensor, expression: torch.Tensor, rotation: torch.Tensor
                        ) -> LandmarkPoints:
        """Posed (B, 478, 3) dense landmarks (None when the model has no dense embedding), (B, 68, 3)
        iBUG landmarks and (B, C, 3) `jaw_candidates` vertices."""
        return self.points_on(self.posed(identity, expression, rotation))

    def eyeballs(self, identity: torch.Tensor, expression: torch.Tensor, rotation: torch.Tensor
                 ) -> list[torch.Tensor]:
        """The posed vertices (B, n, 3) of each eyeball (`FaceModel.eyeball_masks`; [] without eyeballs)."""
        masks = self.model.eyeball_masks()
        if not masks:
            return []
        vertices = self.posed(identity, expression, rotation)
        return [vertices[:, mask.to(vertices.device)] for mask in masks]

    def points_on(self, vertices: torch.Tensor) -> LandmarkPoints:
        """The same points read from already posed (B, V, 3) vertices."""
        dense = self.model.surface_landmarks(vertices, "dense") if "dense" in self.model.embedded else None
        return dense, self.model.surface_landmarks(vertices, "ibug"), vertices[:, self.jaw_candidates]

    def split(self, vector: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, n_expression) fitted vector -> `FaceParams`' (expression, jaw); jaw is None without a jaw joint."""
        return vector, None

    def join(self, expression: torch.Tensor, jaw: torch.Tensor | None) -> torch.Tensor:
        """`FaceParams`' (expression, jaw) -> the (B, n_expression) vector the terms work on."""
        return expression

    @property
    @abstractmethod
    def files(self) -> list[Path]:
        """The files this model's decoding read (model, embeddings, learned corrections), for provenance."""

    @abstractmethod
    def expression_fields(self, expression: torch.Tensor) -> dict:
        """(n_expression,) one face's vector -> the expression fields of its `params.json` entry."""

    def to(self, device: torch.device) -> "FaceTerms":
        """Move this object's own tensors to `device` (in place; the model moves separately); returns self."""
        _move_tensors(self, device)
        return self


class ICTTerms(FaceTerms):
    """ICT-FaceKit: 53 blendshape weights in [0, 1]. Landmark-only steps read a few hundred vertices.
    `correctives`: (53, K) or None, the shipped expression correctives; `jaw_offsets`: (17, 2) or None."""

    name = "ict"

    def __init__(self, model: ICTFaceModel, jaw_candidates: torch.Tensor) -> None:
        self.model, self.jaw_candidates = model, jaw_candidates
        self.correctives = load_correctives(self.n_expression, model.n_identity)
        self.jaw_offsets = load_jaw_offsets()

    @property
    def correctives(self) -> torch.Tensor | None:
        return self._correctives

    @correctives.setter
    def correctives(self, matrix: torch.Tensor | None) -> None:
        """Set the correctives and fold them into the posing bases (the whole mesh, the landmark vertices,
        the eyeballs: `_VertexSubset`)."""
        model = self.model
        self._correctives = None if matrix is None else matrix.to(model.template.device)
        self._mesh = _VertexSubset(model, None, self._correctives)
        self._landmark_vertices = _LandmarkVertices(model, self.jaw_candidates, self._correctives)
        self._eyeballs = [_VertexSubset(model, torch.nonzero(mask).squeeze(1), self._correctives)
                          for mask in model.eyeball_masks()]

    @property
    def files(self) -> list[Path]:
        learned = [(CORRECTIVES, self.correctives), (ICT_JAW_OFFSETS, self.jaw_offsets)]
        return [self.model.source, LANDMARK_EMBEDDING] + [path for path, value in learned if value is not None]

    def mesh_identity(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """(B, K) the identity weights that give the fitted mesh with ICT's own blendshapes: identity +
        expression @ correctives (`emoca.decode.expression_correctives`)."""
        return identity if self.correctives is None else identity + expression @ self.correctives

    @property
    def n_expression(self) -> int:
        return len(self.model.expression_names)

    def bound(self, expression: torch.Tensor) -> None:
        expression.clamp_(0, 1)

    def expression_prior(self, expression: torch.Tensor) -> torch.Tensor:
        return sparsity_prior(expression) * expression.shape[1]

    def posed(self, identity: torch.Tensor, expression: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
        return self._mesh(identity, expression, rotation)

    def unposed(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        return self.model.shape(self.mesh_identity(identity, expression), expression)

    def landmark_points(self, identity: torch.Tensor, expression: torch.Tensor, rotation: torch.Tensor
                        ) -> LandmarkPoints:
        return self._landmark_vertices(identity, expression, rotation)

    def eyeballs(self, identity: torch.Tensor, expression: torch.Tensor, rotation: torch.Tensor
                 ) -> list[torch.Tensor]:
        """As `FaceTerms.eyeballs`, from the eyeballs' own basis slices (a fifth of the mesh)."""
        return [eyeball(identity, expression, rotation) for eyeball in self._eyeballs]

    def to(self, device: torch.device) -> "ICTTerms":
        """Move the jaw candidates, the correctives and the posing bases to `device`; returns self."""
        super().to(device)
        for subset in (self._mesh, self._landmark_vertices.vertices, *self._eyeballs):
            _move_tensors(subset, device)
        _move_tensors(self._landmark_vertices, device)
        return self

    def expression_fields(self, expression: torch.Tensor) -> dict:
        return {"expression": dict(zip(self.model.expression_names, expression.tolist(), strict=True))}


class _VertexSubset:
    """ICT vertices (`ids`, (n,) long; None: all of them) posed without the rest of the mesh:
    `subset(identity, expression, rotation)` -> (B, n, 3), the model's own forward at `mesh_identity`.

    The correctives C (E, K) are folded into the expression basis: with identity basis I and expression
    basis X, I (identity + expression C) + X expression = I identity + (X + C^T I) expression. So the
    neutral part, template + I identity, does not depend on the expression; the last one computed for an
    identity without a gradient is kept (compared by value), and a fit that holds the identity (`emoca`)
    skips the identity product, forward and backward, at every step."""

    def __init__(self, model: ICTFaceModel, ids: torch.Tensor | None, correctives: torch.Tensor | None) -> None:
        pick = slice(None) if ids is None else ids  # all vertices: views of the model's bases, no copy
        self.template = model.template[pick]
        self.identity_basis = model.identity_basis[:, pick]
        self.expression_basis = model.expression_basis[:, pick]
        if correctives is not None:
            self.expression_basis = self.expression_basis + torch.einsum("ek,kvc->evc", correctives,
                                                                         self.identity_basis)
        self._held: LastResult[torch.Tensor] = LastResult()

    def neutral(self, identity: torch.Tensor) -> torch.Tensor:
        """(B, n, 3) template + identity offsets, unposed (kept for the last identity without a gradient)."""
        if identity.requires_grad:
            return self._neutral(identity)
        return self._held(identity, lambda: self._neutral(identity))

    def _neutral(self, identity: torch.Tensor) -> torch.Tensor:
        return self.template + torch.einsum("bk,kvc->bvc", identity, self.identity_basis)

    def __call__(self, identity: torch.Tensor, expression: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
        vertices = self.neutral(identity) + torch.einsum("bk,kvc->bvc", expression, self.expression_basis)
        return rigid_transform(vertices, rotation, torch.zeros_like(rotation))


class _LandmarkVertices:
    """The few ICT vertices the landmark losses read (embedded landmark corners, jaw candidates), posed
    alone (`_VertexSubset`): landmark-only steps skip the other ~13,000 vertices."""

    def __init__(self, model: ICTFaceModel, jaw_candidates: torch.Tensor, correctives: torch.Tensor | None) -> None:
        needed = torch.unique(torch.cat([model.dense_corners.reshape(-1), model.ibug_corners.reshape(-1),
                                         jaw_candidates]))
        remap = torch.full((model.n_vertices,), -1, dtype=torch.long)
        remap[needed] = torch.arange(len(needed))
        self.vertices = _VertexSubset(model, needed, correctives)
        self.dense_corners, self.dense_barycentric = remap[model.dense_corners], model.dense_barycentric
        self.ibug_corners, self.ibug_barycentric = remap[model.ibug_corners], model.ibug_barycentric
        self.jaw = remap[jaw_candidates]

    def __call__(self, identity: torch.Tensor, expression: torch.Tensor, rotation: torch.Tensor) -> LandmarkPoints:
        vertices = self.vertices(identity, expression, rotation)
        dense = torch.einsum("bnkc,nk->bnc", vertices[:, self.dense_corners], self.dense_barycentric)
        ibug = torch.einsum("bnkc,nk->bnc", vertices[:, self.ibug_corners], self.ibug_barycentric)
        return dense, ibug, vertices[:, self.jaw]


class FLAMETerms(FaceTerms):
    """FLAME: expression coefficients, then the jaw rotation (see the module docstring)."""

    name = "flame"
    COEFFICIENT_LIMIT = 4.0
    JAW_LOW = (0.0, -0.15, -0.15)
    JAW_HIGH = (0.6, 0.15, 0.15)

    def __init__(self, model: FLAMEFaceModel, jaw_candidates: torch.Tensor) -> None:
        self.model, self.jaw_candidates = model, jaw_candidates
        n = len(model.expression_names)
        limit = self.COEFFICIENT_LIMIT
        self._low = torch.tensor([-limit] * n + list(self.JAW_LOW))
        self._high = torch.tensor([limit] * n + list(self.JAW_HIGH))

    @property
    def n_expression(self) -> int:
        return len(self.model.expression_names) + 3

    @property
    def files(self) -> list[Path]:
        embedding = self.model.embedding_path
        return [Path(self.model.config.path)] + ([embedding] if embedding is not None else [])

    def split(self, vector: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return vector[:, :-3], vector[:, -3:]

    def join(self, expression: torch.Tensor, jaw: torch.Tensor | None) -> torch.Tensor:
        return torch.cat([expression, jaw if jaw is not None else expression.new_zeros(len(expression), 3)], 1)

    def bound(self, expression: torch.Tensor) -> None:
        torch.maximum(expression, self._low, out=expression)
        torch.minimum(expression, self._high, out=expression)

    def expression_prior(self, expression: torch.Tensor) -> torch.Tensor:
        coefficients, _ = self.split(expression)
        return gaussian_prior(coefficients) * coefficients.shape[1]

    def posed(self, identity: torch.Tensor, expression: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
        coefficients, jaw = self.split(expression)
        return self.model(identity, coefficients, rotation, torch.zeros_like(rotation), jaw=jaw).vertices

    def expression_fields(self, expression: torch.Tensor) -> dict:
        coefficients, jaw = expression[:-3], expression[-3:]
        return {"expression": dict(zip(self.model.expression_names, coefficients.tolist(), strict=True)),
                "jaw": {"rotation": jaw.tolist(), "convention": "axis-angle, radians, about FLAME's jaw joint"}}


def face_terms(model: FaceModel, jaw_candidates: torch.Tensor) -> FaceTerms:
    """The terms for `model` (ICT or FLAME); `jaw_candidates` (C,) from `emoca.decode.jaw_contour`."""
    if isinstance(model, FLAMEFaceModel):
        return FLAMETerms(model, jaw_candidates)
    if isinstance(model, ICTFaceModel):
        return ICTTerms(model, jaw_candidates)
    raise TypeError(f"no fitting terms for {type(model).__name__}")
