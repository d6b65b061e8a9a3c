"""A UV texture of the face taken from its photo (`texture.png`): what a head looks like, not how it moves.

Each texel of the atlas (`emoca.texture.atlas`) is a point on the reconstructed mesh; projected into the
photo by the reconstruction's camera, it takes the photo's colour there where that point is the surface
the camera sees (a depth test against the mesh rendered at the photo's size) and faces the camera, with
the weight cos(angle to the camera) ** `sharpness`, faded to zero over `feather` texels at the edge of
what is seen (no hard seam where the nose hides a cheek). The colour is divided by the reconstruction's
shading there (its fitted spherical-harmonics light), so the texture is an albedo a renderer lights
again. Texels the photo does not show take the colour of their mirror point on the face when that one
is seen (both of ICT's tiles are mirror-symmetric), then the fitted albedo, all blended by their
weights. The eyeballs never take the photo's pixels (a photo's iris is where the photo's gaze put it;
the mesh's eyes turn with the gaze): they take the fitted sclera and iris colours with a dark pupil.
Hair, glasses or a hand in front of the face are the photo's and end up in the texture: nothing here
can tell them from skin.

The mesh is sampled at `work_rows` texel rows and the resulting maps are resized to `size` before the
photo is sampled (the photo's own resolution is kept; the maps are smooth within a triangle).
"""

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from scipy.ndimage import distance_transform_edt

from emoca.facemodel.base import FaceModel
from emoca.facemodel.face_regions import IRIS_HALF_ANGLE
from emoca.render.rasterize import rasterize
from emoca.render.shading import VertexNormals, sh_shading
from emoca.texture.atlas import EYE, atlas_of, mirrored, texels

VISIBILITY_SIDE = 256  # the depth test's render: the face's window shrunk to at most this many pixels a side
PUPIL_SHARE = 0.45  # pupil radius as a share of the iris's
PUPIL_COLOUR = (0.03, 0.03, 0.03)


@dataclass
class TextureConfig:
    """size: rows of the atlas image (it is size x 2 size pixels, RGB). work_rows: rows at which the mesh
    is sampled. sharpness: a seen texel's weight is cos(angle to the camera) ** sharpness. feather: texels
    (at work_rows) over which a weight fades in from the edge of what is seen. mirror: weight of a texel's
    mirror point, used where the texel itself is not well seen. albedo: weight of the fitted albedo
    (what shows where neither side is seen). depth_tolerance: a texel is seen when it lies within this
    share of the face's depth range of the nearest surface. shading_floor: the shading a colour is
    divided by is at least this (grazing light would blow noise up). hidden_below: the face counts as
    mostly hidden when less than this share of the frontal face's texels is seen."""

    size: int = 512  # a 1024 x 512 image: the face's tile is 512 px square (DECA's UV texture: 256 px)
    work_rows: int = 192  # chosen on HELEN trainset (benchmarks/tune_texture.py): 256 rows cost 62 ms a face
    sharpness: float = 2.0
    feather: float = 3.0
    mirror: float = 0.5
    albedo: float = 0.02
    depth_tolerance: float = 0.02
    shading_floor: float = 0.25
    hidden_below: float = 0.5


@dataclass
class FaceTexture:
    """image: (size, 2 size, 3) uint8 RGB atlas texture (v up: row 0 is v = 1). seen: share of the frontal
    face's texels (ICT's narrow face) the photo shows. mostly_hidden: seen < the config's `hidden_below`
    (a profile, a face at the photo's border, a face under something the mesh does not see)."""

    image: np.ndarray
    seen: float
    mostly_hidden: bool


class TextureBuilder:
    """Builds `FaceTexture`s for one face model (the atlas and its texels are computed once, about 1 s)."""

    def __init__(self, model: FaceModel, config: TextureConfig | None = None) -> None:
        self.config = config or TextureConfig()
        self.atlas = atlas_of(model)
        self.triangles = model.triangles.cpu()
        self.normals = VertexNormals(self.triangles, model.n_vertices)
        self.texels = texels(model, self.atlas, self.config.work_rows)
        narrow = model.regions.get("narrow_face", model.regions.get("face"))
        self._frontal = narrow.cpu().numpy()[self.texels.corners].all(1) if narrow is not None else None
        size, covered = self.config.size, self.texels.part > 0
        # The texels between the islands and the nearest covered texel of each (`_filled`).
        _, nearest = distance_transform_edt(~covered, return_indices=True)
        self._empty = np.flatnonzero(~covered.ravel())
        self._nearest = (nearest[0] * covered.shape[1] + nearest[1]).ravel()[self._empty]
        self._pupil = _pupil(model, self.atlas, size)

    def __call__(self, image: np.ndarray, vertices: torch.Tensor, screen: torch.Tensor, albedo: torch.Tensor,
                 light: torch.Tensor) -> FaceTexture:
        """The texture of one face.

        Args:
            image: (H, W, 3) uint8 RGB photo.
            vertices: (V, 3) posed vertices, camera-aligned axes (+z to the camera), model units.
            screen: (V, 4) their screen positions in the photo's pixels (`emoca.decode.image_space`).
            albedo: (V, 3) fitted per-vertex albedo in [0, 1]; light: (9, 3) SH coefficients.
        """
        config, texel = self.config, self.texels
        with torch.no_grad():
            normals = self.normals(vertices[None].float())[0]
            shading = sh_shading(normals[None], light[None].float())[0]
        values = torch.cat([screen[:, :3], normals[:, 2:], shading, albedo], 1).float().numpy()
        at = texel.interpolate(values)  # (N, 10): x, y, depth, facing, shading (3), albedo (3)
        seen = self._seen(image.shape[:2], screen, at[:, :3]) & (at[:, 3] > 0)
        weight = np.where(seen, np.clip(at[:, 3], 0, 1) ** config.sharpness, 0.0).astype(np.float32)
        work = texel.image(np.concatenate([at[:, :2], at[:, 4:], weight[:, None], seen[:, None]], 1))
        # The blend, at work_rows: colour = own * photo + mirror * mirrored(photo) + base, per channel.
        own = work[..., 8] * _feathered(work[..., 9], config.feather)
        own[texel.part == EYE] = 0.0
        mirror = config.mirror * mirrored(own) * np.clip(1 - 3 * own, 0, 1)
        total = own + mirror + config.albedo
        lit = np.maximum(work[..., 2:5], config.shading_floor)
        # Per texel: photo weight (3, over the shading and 255), mirror weight (3), base colour (3), photo x, y.
        parts = ((own / total)[..., None] / (255 * lit), (mirror / total)[..., None] / (255 * mirrored(lit)),
                 (config.albedo / total)[..., None] * work[..., 5:8], work[..., :2] - 0.5)
        size = (2 * config.size, config.size)
        own_weight, mirror_weight, base, where = (_full(self._filled(part), size) for part in parts)
        photo = cv2.remap(image, where[..., 0], where[..., 1], cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        colour = own_weight * photo
        colour += mirror_weight * mirrored(photo)
        colour += base
        cv2.circle(colour, *self._pupil, PUPIL_COLOUR, -1, cv2.LINE_AA)
        shown = float(seen[self._frontal].mean()) if self._frontal is not None and self._frontal.any() else 0.0
        return FaceTexture(cv2.convertScaleAbs(colour, alpha=255), shown, shown < config.hidden_below)

    def _filled(self, values: np.ndarray) -> np.ndarray:
        """(R, C, K) work-resolution values with every texel between the islands set to its nearest covered
        texel's (so resizing and mipmaps never blend in black)."""
        flat = np.ascontiguousarray(values, np.float32).reshape(-1, values.shape[-1])
        flat[self._empty] = flat[self._nearest]
        return flat.reshape(values.shape)

    def _seen(self, shape: tuple[int, int], screen: torch.Tensor, points: np.ndarray) -> np.ndarray:
        """(N,) bool: texel points (N, 3) (x, y in photo pixels, depth) inside the photo and in front (the
        nearest surface of the mesh there, within the tolerance)."""
        height, width = shape
        xy = screen[:, :2].numpy()
        low = np.maximum(np.floor(xy.min(0)), 0)
        high = np.minimum(np.ceil(xy.max(0)), [width, height])
        if (high <= low).any():
            return np.zeros(len(points), bool)
        shrink = min(1.0, VISIBILITY_SIDE / float((high - low).max()))
        rows, columns = (int(np.ceil((high[1] - low[1]) * shrink)), int(np.ceil((high[0] - low[0]) * shrink)))
        local = screen.clone().float()
        local[:, :2] = (local[:, :2] - torch.from_numpy(low).float()) * shrink
        depth = rasterize(local[None], self.triangles, (rows, columns)).depth[0].numpy()
        column = np.floor((points[:, 0] - low[0]) * shrink).astype(np.int64)
        row = np.floor((points[:, 1] - low[1]) * shrink).astype(np.int64)
        inside = ((points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
                  & (column >= 0) & (column < columns) & (row >= 0) & (row < rows))
        nearest = np.full(len(points), -np.inf, np.float32)
        nearest[inside] = depth[row[inside], column[inside]]
        span = float(screen[:, 2].max() - screen[:, 2].min())
        return inside & (points[:, 2] <= nearest + self.config.depth_tolerance * span)


def _feathered(seen: np.ndarray, feather: float) -> np.ndarray:
    """(R, C) 0/1 seen mask -> weights in [0, 1] that rise from 0 at its edge to 1 `feather` texels in."""
    if feather <= 0:
        return seen
    inside = cv2.distanceTransform((seen > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
    return np.clip(inside / feather, 0, 1).astype(np.float32)


def _full(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(R, C, K) float32 work-resolution values resized (bilinear) to `size` (columns, rows) when it differs."""
    if values.shape[1::-1] == size:
        return np.ascontiguousarray(values, np.float32)
    return cv2.resize(np.ascontiguousarray(values, np.float32), size, interpolation=cv2.INTER_LINEAR)


def _pupil(model: FaceModel, atlas, size: int) -> tuple[tuple[int, int], int]:
    """((column, row) centre, radius) of the pupil in the atlas image (the eyes share one texture): at the
    atlas point of the left eyeball's front-most vertex, `PUPIL_SHARE` of the iris's radius there (the
    iris as the albedo's regions draw it: `IRIS_HALF_ANGLE` about the eyeball's forward axis, measured on
    the eyeball's shell that holds the front vertex)."""
    triangles, template = model.triangles.cpu().numpy(), model.template.cpu().numpy().reshape(-1, 3)
    corner_of = np.zeros(model.n_vertices, np.int64)
    corner_of[triangles.ravel()] = atlas.triangles_uv.ravel()
    eyeball = np.flatnonzero(model.regions["eyeball_left"].cpu().numpy())
    front = eyeball[np.argmax(template[eyeball, 2])]
    shell = model.regions["iris"].cpu().numpy()
    eyeball = eyeball[shell[eyeball] == shell[front]]
    offsets = template[eyeball] - template[eyeball].mean(0)
    angle = np.arccos(np.clip(offsets[:, 2] / np.linalg.norm(offsets, axis=1), -1, 1))
    rim = eyeball[np.abs(angle - IRIS_HALF_ANGLE) < 0.1 * IRIS_HALF_ANGLE]
    pixels = atlas.uv * [2 * size, size]
    centre = pixels[corner_of[front]]
    radius = np.median(np.linalg.norm(pixels[corner_of[rim]] - centre, axis=1)) if len(rim) else 0.0
    return (int(round(centre[0])), int(round(size - centre[1]))), max(1, int(round(PUPIL_SHARE * radius)))
