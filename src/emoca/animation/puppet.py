"""A person's face driven by expression weights, gaze and head rotation: the target of `emoca animate`
and the mesh of an animated GLB.

ICT's unposed mesh is linear in the 53 expression weights, its expression correctives included (they
move the identity linearly with the expression), so one decode per expression gives a base mesh and
one offset per expression (exactly what glTF morph targets hold), and a frame costs one weighted sum.
The eyeballs turn about their own centres; for GLB they get four more morph targets (`GAZE_TARGETS`:
the eyes turned `GAZE_TARGET_RAD` left, right, up and down, weighted by the gaze angle over that
angle, a linear blend that shortens the eye's radius by under 0.2 mm at 15 degrees).
"""

from dataclasses import dataclass
from io import BytesIO

import numpy as np
import torch
from PIL import Image

from emoca.decode.decoder import FaceDecoder
from emoca.decode.gaze import turn_eyes
from emoca.errors import InputError
from emoca.facemodel.geometry import rigid_transform
from emoca.facemodel.ict import ICTFaceModel
from emoca.output.capture import CapturedFace
from emoca.render.camera import weak_perspective
from emoca.render.renderer import Renderer, RendererConfig
from emoca.render.shading import default_light
from emoca.texture.atlas import atlas_of

GAZE_TARGET_RAD = float(np.deg2rad(30.0))
GAZE_TARGETS = ("gazeLeft", "gazeRight", "gazeUp", "gazeDown")  # the subject's left; looking up


@dataclass
class Framing:
    """size: square image side, pixels; scale, offset: the weak perspective that frames the face."""

    size: int
    scale: float
    offset: tuple[float, float]


class Puppet:
    """One person (identity, albedo, light; optionally the texture taken from their photo) on ICT, posed by
    `vertices(expression, gaze, rotation)`.

    texture: (S, 2 S, 3) uint8 atlas texture (`emoca.texture`), rendered in place of the albedo model's
    colours when given; `texture_png` holds its PNG bytes (for GLB), None without one.

    Raises:
        InputError: a face that is not ICT's (FLAME faces are exported with `flame-npz` or `obj-seq`).
    """

    def __init__(self, decoder: FaceDecoder, face: CapturedFace, texture_png: bytes | None = None) -> None:
        if not isinstance(decoder.model, ICTFaceModel) or face.model != "ict":
            raise InputError(None, f"animation and GLB/ARKit export need ICT faces (this one is {face.model}); "
                                   "FLAME captures export as flame-npz or obj-seq")
        face.check_fits(decoder)
        self.decoder, self.model = decoder, decoder.model
        self.names = tuple(self.model.expression_names)
        count = len(self.names)
        neutral = face.params().replace(expression=torch.zeros(1, count), jaw=None)
        with torch.no_grad():
            self.base = decoder.unposed(neutral)[0]  # (V, 3) model units
            each = neutral.replace(identity=neutral.identity.expand(count, -1), expression=torch.eye(count))
            self.deltas = decoder.unposed(each) - self.base  # (E, V, 3)
            self.albedo = decoder.albedo(neutral.colours, neutral.coefficients)[0]  # (V, 3)
        self.light = torch.as_tensor(face.light)[None]
        self.texture_png = texture_png
        self.texture = None if texture_png is None else torch.from_numpy(np.array(
            Image.open(BytesIO(texture_png)).convert("RGB"))).permute(2, 0, 1)[None].float() / 255
        self._textured: dict[int, Renderer] = {}

    @classmethod
    def neutral(cls, decoder: FaceDecoder) -> "Puppet":
        """ICT's mean face with the default albedo and a studio light."""
        params = decoder.neutral(1)
        face = CapturedFace("ict", params.identity[0].numpy(), tuple(decoder.model.expression_names),
                            params.expression[0].numpy(), None, np.zeros(3, np.float32), None,
                            default_light(1)[0].numpy(), params.colours[0].numpy(), params.coefficients[0].numpy())
        return cls(decoder, face)

    def vertices(self, expression: torch.Tensor, gaze: torch.Tensor | None = None,
                 rotation: torch.Tensor | None = None) -> torch.Tensor:
        """(N, V, 3) meshes, model units: (N, E) expression weights, (N, 2) gaze radians (None: ahead),
        (N, 3) head rotation, axis-angle radians about the model origin (None: unposed)."""
        vertices = self.base + torch.einsum("ne,evc->nvc", expression.to(self.base), self.deltas)
        if gaze is not None:
            vertices = turn_eyes(self.model, vertices, torch.zeros(len(vertices), 3), gaze)
        if rotation is not None:
            rotation = rotation.to(vertices)
            vertices = rigid_transform(vertices, rotation, torch.zeros_like(rotation))
        return vertices

    def gaze_deltas(self) -> np.ndarray:
        """(4, V, 3) offsets of the eyes turned `GAZE_TARGET_RAD` in each of `GAZE_TARGETS`' directions."""
        angle = GAZE_TARGET_RAD
        gazes = torch.tensor([[angle, 0.0], [-angle, 0.0], [0.0, angle], [0.0, -angle]])
        with torch.no_grad():
            turned = turn_eyes(self.model, self.base.expand(4, -1, -1), torch.zeros(4, 3), gazes)
        return (turned - self.base).numpy()

    def framing(self, size: int) -> Framing:
        """The camera that shows the face (with a margin) in a `size`-pixel square."""
        face = self.base[self.model.regions["face"]]
        low, high = face.min(0).values, face.max(0).values
        centre, half = (low + high) / 2, float((high - low)[:2].max()) / 2 * 1.3
        scale = 1.0 / half
        return Framing(size, scale, (-scale * float(centre[0]), -scale * float(centre[1])))

    def render(self, vertices: torch.Tensor, framing: Framing, background: float = 0.35) -> np.ndarray:
        """(N, size, size, 3) uint8 RGB images of posed `vertices` (N, V, 3) with the person's albedo and light."""
        batch, size = len(vertices), framing.size
        screen = weak_perspective(vertices, torch.full((batch,), framing.scale),
                                  torch.tensor([framing.offset]).expand(batch, 2), (size, size))
        back = torch.full((batch, 3, size, size), background)
        renderer, albedo = self.decoder.renderer(size), self.albedo
        if self.texture is not None:
            if size not in self._textured:
                atlas = atlas_of(self.model)
                self._textured[size] = Renderer(self.model.triangles, torch.from_numpy(atlas.triangles_uv),
                                                torch.from_numpy(atlas.uv), RendererConfig(image_size=(size, size)))
            renderer, albedo = self._textured[size], self.texture.expand(batch, -1, -1, -1)
        with torch.no_grad():
            image = renderer(vertices, screen, albedo, self.light.expand(batch, -1, -1), back).image
        return (image.permute(0, 2, 3, 1).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)

