"""`FaceParams` -> mesh, landmarks and colours on the crop: what fitting, training and output all read.

`FaceDecoder.decode(params)` poses the face model (with ICT's learned expression correctives,
`emoca.decode.expression_correctives`), reads the surface landmarks, projects them with the weak
perspective onto the crop and puts the 68-point jawline (0-16) on the projected silhouette at the learned
offsets (`emoca.decode.jaw_contour`); with `mesh=True` it also gives every vertex and its albedo colour
(`emoca.decode.albedo`), and with `output=True` what the written files need besides (the unposed mesh
and the mesh identity). `render` shades a decoded batch on a square image of any size.
"""

from dataclasses import dataclass, fields

import torch

from emoca.decode.albedo import AlbedoModel
from emoca.decode.face_terms import FaceTerms, face_terms
from emoca.decode.jaw_contour import JAW, JawContour, shift_along_outline
from emoca.detect.crops import CROP_SIZE
from emoca.face_params import FaceParams
from emoca.facemodel.base import FaceModel
from emoca.facemodel.landmark_sets import outer_eye_distance
from emoca.render.camera import weak_perspective
from emoca.render.renderer import Renderer, RendererConfig, RenderOutput
from emoca.render.shading import default_light


@dataclass
class Decoded:
    """Decoded faces on their crops (B = batch; pixels of a `crop_size` crop, 0 at the top-left pixel's
    centre, x right, y down).

    landmarks_68: (B, 68, 2) iBUG points, the jawline on the projected silhouette.
    dense: (B, 478, 2) MediaPipe's points, or None for a model without that embedding (FLAME).
    vertices: (B, V, 3) every vertex, rotated by the head pose (no translation), model units; None when
        decoded with `mesh=False` (landmark-only decoding reads a few hundred vertices).
    albedo: (B, V, 3) per-vertex colour in [0, 1]; None when decoded with `mesh=False`.
    unposed: (B, V, 3) every vertex with the expression and no head rotation (what `mesh.obj` holds),
        model units; mesh_identity: (B, K) the identity weights the model's own forward needs to rebuild
        that mesh (`FaceTerms.mesh_identity`). Both None unless decoded with `output=True`.
    """

    landmarks_68: torch.Tensor
    dense: torch.Tensor | None
    vertices: torch.Tensor | None
    albedo: torch.Tensor | None
    unposed: torch.Tensor | None = None
    mesh_identity: torch.Tensor | None = None

    def _map(self, function) -> "Decoded":
        return Decoded(*(None if value is None else function(value)
                         for value in (getattr(self, part.name) for part in fields(self))))

    def cpu(self) -> "Decoded":
        return self._map(torch.Tensor.cpu)

    def __getitem__(self, index: int) -> "Decoded":
        """Face `index` as a batch of one."""
        return self._map(lambda tensor: tensor[index:index + 1])


class FaceDecoder:
    """Decodes `FaceParams` of one face model (ICT or FLAME) on `crop_size`-pixel crops.

    The parts (model-specific terms, albedo, jaw contour) are built from `model` on the CPU; `to` moves
    them and the model (in place, as `nn.Module.to` does)."""

    def __init__(self, model: FaceModel, crop_size: int = CROP_SIZE) -> None:
        self.model = model.cpu()
        self.crop_size = crop_size
        self.albedo = AlbedoModel(model)
        self.jaw_contour = JawContour(model)
        self.terms: FaceTerms = face_terms(model, self.jaw_contour.candidates)
        self.device = torch.device("cpu")
        self._renderers: dict[int, Renderer] = {}

    def to(self, device: torch.device | str) -> "FaceDecoder":
        self.device = torch.device(device)
        for part in (self.model, self.albedo, self.jaw_contour, self.terms, *self._renderers.values()):
            part.to(self.device)
        return self

    def neutral(self, batch: int) -> FaceParams:
        """The start of a fit: mean identity, no expression, no rotation, the default light and colours,
        unit camera (callers set the camera from the detections)."""
        albedo = self.albedo.neutral_parameters(batch)
        expression, jaw = self.terms.split(torch.zeros(batch, self.terms.n_expression))
        return FaceParams(torch.zeros(batch, self.model.n_identity), expression, torch.zeros(batch, 3),
                          torch.ones(batch), torch.zeros(batch, 2), default_light(batch), albedo["colours"],
                          albedo["coefficients"], jaw)

    def vector(self, params: FaceParams) -> torch.Tensor:
        """(B, n_expression) the expression vector the model-specific terms work on (FLAME: + jaw)."""
        return self.terms.join(params.expression, params.jaw)

    def project(self, points: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) posed points -> (B, N, 2) crop pixels (0 at the top-left pixel's centre)."""
        size = self.crop_size
        return weak_perspective(points, scale, offset, (size, size))[..., :2] - 0.5

    def decode(self, params: FaceParams, mesh: bool = True, output: bool = False) -> Decoded:
        """See `Decoded`; `mesh=False` skips the full mesh and albedo (fast, for landmark-only losses);
        `output=True` (with the mesh) adds the unposed mesh and the mesh identity."""
        vector = self.vector(params)
        if mesh:
            vertices = self.terms.posed(params.identity, vector, params.rotation)
            dense3d, ibug3d, jaw3d = self.terms.points_on(vertices)
            albedo = self.albedo(params.colours, params.coefficients)
        else:
            vertices = albedo = None
            dense3d, ibug3d, jaw3d = self.terms.landmark_points(params.identity, vector, params.rotation)
        dense = None if dense3d is None else self.project(dense3d, params.scale, params.offset)
        decoded = Decoded(self.landmarks_68(ibug3d, jaw3d, params.scale, params.offset), dense, vertices, albedo)
        if mesh and output:
            decoded.unposed, decoded.mesh_identity = self.unposed(params), self.mesh_identity(params)
        return decoded

    def eyeballs(self, params: FaceParams) -> list[torch.Tensor]:
        """Each eyeball's vertices (B, n, 3) as `decode` poses them, without the rest of the mesh (ICT);
        [] for a model without eyeballs."""
        return self.terms.eyeballs(params.identity, self.vector(params), params.rotation)

    def landmarks_68(self, ibug3d: torch.Tensor, jaw3d: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor
                     ) -> torch.Tensor:
        """(B, 68, 3) posed embedded iBUG points and (B, C, 3) posed jaw candidates -> (B, 68, 2) crop
        pixels, the jawline (0-16) on the projected silhouette, moved by the terms' learned jaw offsets."""
        points = self.project(ibug3d, scale, offset)
        jaw, centre = points[:, JAW], points.mean(1)
        outline = self.jaw_contour.silhouette(self.project(jaw3d, scale, offset), jaw, centre)
        if self.terms.jaw_offsets is not None:
            outline = shift_along_outline(outline, jaw, centre, self.terms.jaw_offsets, outer_eye_distance(points))
        return torch.cat([outline, points[:, len(JAW):]], 1)

    def unposed(self, params: FaceParams) -> torch.Tensor:
        """(B, V, 3) the faces with their expression and no head rotation (what `mesh.obj` holds), model units."""
        return self.terms.unposed(params.identity, self.vector(params))

    def mesh_identity(self, params: FaceParams) -> torch.Tensor:
        """(B, K) the identity weights the model's own forward needs to rebuild the decoded mesh."""
        return self.terms.mesh_identity(params.identity, self.vector(params))

    def renderer(self, size: int) -> Renderer:
        """A renderer of `size` x `size` images on the decoder's device (kept per size)."""
        if size not in self._renderers:
            renderer = Renderer(self.model.triangles.cpu(), config=RendererConfig(image_size=(size, size)))
            self._renderers[size] = renderer.to(self.device)
        return self._renderers[size]

    def render(self, params: FaceParams, decoded: Decoded, size: int, background: torch.Tensor | None = None
               ) -> RenderOutput:
        """Shade `decoded` (decoded with `mesh=True`) with its albedo and `params.light` on `size`-pixel
        images of the crop (the same weak perspective, rescaled), over `background` (B, 3, size, size)."""
        screen = weak_perspective(decoded.vertices, params.scale, params.offset, (size, size))
        return self.renderer(size)(decoded.vertices, screen, decoded.albedo, params.light, background=background)
