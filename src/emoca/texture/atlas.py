"""A face model's texture atlas: where each part of the mesh lies in one texture image.

ICT's UVs put the face in the tile u in [0, 1), the head, neck and eye sockets in [1, 2), and both
eyeballs on one disc that overlaps the face's tile (ICT gives the eyes a material of their own). The
atlas is the two tiles side by side (an image `size` rows by 2 `size` columns), u halved, with the
eyeballs' disc shrunk into the free top-left corner of the second tile (`EYE_BOX`), where both eyes share
one eye texture. Coordinates are v up, as OBJ's; texel (row, column) of the image lies at
u = (column + 0.5) / (2 size), v = 1 - (row + 0.5) / size.

Both of ICT's tiles are laid out mirror-symmetrically (the subject's left at u -> 1 - u of the same
tile; checked on the mesh: the mirror vertex's UV is within 1e-6 for 95% of the face's vertices and 99%
of the head's), so the mirror of a texel is the texel mirrored within its tile (`mirrored`).
"""

from dataclasses import dataclass

import numpy as np
import torch

from emoca.facemodel.base import FaceModel
from emoca.render.barycentric_cpu import PixelInterpolate
from emoca.render.rasterize import rasterize

EYE_BOX = (1.01, 0.77, 0.22)  # (u, v, side) of the eyeball disc in ICT's tile units: tile 1's free corner
FACE, HEAD, EYE = 1, 2, 3  # `Texels.part` values (0: not covered)


@dataclass(frozen=True)
class TextureAtlas:
    """uv: (T, 2) atlas coordinates in [0, 1], v up; triangles_uv: (F, 3) per-corner indices into them (the
    model's own); eye_uv: (T,) bool, the coordinates of the eyeballs."""

    uv: np.ndarray
    triangles_uv: np.ndarray
    eye_uv: np.ndarray


@dataclass(frozen=True)
class Texels:
    """The covered texels of an atlas image of `rows` x 2 `rows`: flat index (N,) into rows * 2 rows,
    vertex ids (N, 3) of the triangle each lies on and its barycentrics (N, 3) (affine in UV), and the
    (rows, 2 rows) uint8 `part` image (FACE, HEAD, EYE; 0 elsewhere)."""

    rows: int
    index: np.ndarray
    corners: np.ndarray
    barycentric: np.ndarray
    part: np.ndarray

    def interpolate(self, values: np.ndarray) -> np.ndarray:
        """(V, C) per-vertex float32 values -> (N, C) at the covered texels (the renderer's compiled pass)."""
        return PixelInterpolate.apply(torch.from_numpy(np.ascontiguousarray(values, np.float32)),
                                      torch.from_numpy(self.corners), torch.from_numpy(self.barycentric)).numpy()

    def image(self, values: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """(N, C) values at the covered texels -> (rows, 2 rows, C) float32 image, `fill` elsewhere."""
        out = np.full((self.rows * 2 * self.rows, values.shape[1]), fill, np.float32)
        out[self.index] = values
        return out.reshape(self.rows, 2 * self.rows, -1)


def atlas_of(model: FaceModel) -> TextureAtlas:
    """The atlas layout of `model`'s UVs (see the module docstring); ValueError when it has none."""
    if model.uv is None:
        raise ValueError("the face model has no texture coordinates")
    uv = model.uv.cpu().numpy().astype(np.float64)
    triangles_uv = model.triangles_uv.cpu().numpy()
    eye_uv = np.zeros(len(uv), bool)
    eye_uv[triangles_uv[_parts(model) == EYE].ravel()] = True
    atlas = uv.copy()
    u, v, side = EYE_BOX
    atlas[eye_uv] = [u, v] + (uv[eye_uv] - np.floor(uv[eye_uv])) * side
    atlas[:, 0] /= 2
    return TextureAtlas(atlas.astype(np.float32), triangles_uv, eye_uv)


def _parts(model: FaceModel) -> np.ndarray:
    """(F,) uint8 part of each triangle: EYE (both eyeballs), FACE, else HEAD."""
    triangles = model.triangles.cpu().numpy()
    part = np.full(len(triangles), HEAD, np.uint8)
    face = model.regions.get("face")
    if face is not None:
        part[face.cpu().numpy()[triangles].all(1)] = FACE
    for eyeball in model.eyeball_masks():
        part[eyeball.cpu().numpy()[triangles].all(1)] = EYE
    return part


def texels(model: FaceModel, atlas: TextureAtlas, rows: int) -> Texels:
    """The covered texels of `model`'s `atlas` at `rows` x 2 `rows` (about 0.2 s at 512 rows here: compute
    once per model and size)."""
    uv = torch.from_numpy(atlas.uv)
    screen = torch.stack([uv[:, 0] * 2 * rows, (1 - uv[:, 1]) * rows, torch.ones_like(uv[:, 0]),
                          torch.ones_like(uv[:, 0])], -1)[None]
    rast = rasterize(screen, torch.from_numpy(atlas.triangles_uv), (rows, 2 * rows))
    triangle = rast.triangles.numpy()
    part = np.zeros(rows * 2 * rows, np.uint8)
    part[rast.pixels.numpy()] = _parts(model)[triangle]
    return Texels(rows, rast.pixels.numpy(), model.triangles.cpu().numpy()[triangle],
                  rast.barycentric.detach().numpy().astype(np.float32), part.reshape(rows, 2 * rows))


def mesh_uv(model: FaceModel, textured: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(uv, triangles_uv) to write `model`'s mesh with: the texture atlas's when `textured` (the mesh carries
    a texture of this layout), else the model's own; (None, None) for a model without UVs."""
    if model.uv is None:
        return None, None
    if textured:
        atlas = atlas_of(model)
        return atlas.uv, atlas.triangles_uv
    return model.uv.cpu().numpy(), model.triangles_uv.cpu().numpy()


def mirrored(image: np.ndarray) -> np.ndarray:
    """An atlas image (rows, 2 rows, ...) with each tile mirrored left to right: texel (r, c) of the result
    holds the image's value at the mirror point of (r, c) on the face."""
    rows = image.shape[0]
    return np.concatenate([image[:, :rows][:, ::-1], image[:, rows:][:, ::-1]], 1)
