"""The files of one reconstruction (DESIGN.md section 4): meshes, renders and overlays at the photo's
size, params.json; for a video params.jsonl and overlay.mp4. A library: the CLI, the web page and Ray
Data call it."""

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from emoca.decode.image_space import screen_in_image
from emoca.errors import InputError
from emoca.io.atomic import atomic_path
from emoca.io.image_output import save_image
from emoca.io.mesh_export import write_mtl, write_obj
from emoca.io.video import VideoReader, VideoWriter
from emoca.output.drawing import draw_landmarks
from emoca.output.params_json import face_record, write_params
from emoca.pipeline.photo import Face, Reconstructor
from emoca.pipeline.video import VideoReconstructor
from emoca.render.renderer import Renderer, RendererConfig
from emoca.texture.atlas import atlas_of, mesh_uv
from emoca.texture.from_photo import FaceTexture, TextureBuilder, TextureConfig

WINDOW_STEP = 64  # render windows are rounded up to this many pixels a side (renderers are reused)
DEFAULT_TEXTURE = TextureConfig()


def _window(points: np.ndarray, height: int, width: int) -> tuple[int, int, int, int] | None:
    """(top, left, rows, columns) of an image window holding (V, 2) pixel points (x, y) with a pixel to
    spare, its sides rounded up to `WINDOW_STEP` and kept inside the (height, width) image; None when
    the points miss the image."""
    low = np.floor(points.min(0)).astype(int) - 1
    high = np.ceil(points.max(0)).astype(int) + 2
    if (high[0] <= 0) or (high[1] <= 0) or (low[0] >= width) or (low[1] >= height):
        return None
    bounds = []
    for start, stop, size in ((low[1], high[1], height), (low[0], high[0], width)):
        start, stop = max(start, 0), min(stop, size)
        side = min(-(-(stop - start) // WINDOW_STEP) * WINDOW_STEP, size)
        bounds.append((min(start, size - side), side))
    (top, rows), (left, columns) = bounds
    return top, left, rows, columns


@dataclass
class FaceLayers:
    """Rendered faces at an image's size, premultiplied over black (their antialiased edges fade out).

    geometry: (H, W, 3) uint8 grey geometry view. alpha: (H, W, 1) float32 coverage in [0, 1].
    colour: (H, W, 3) uint8 colour render (the model's albedo), or None. textured: (H, W, 3) uint8 render
    with the faces' photo textures, or None. box: the (rows, columns) slices holding every face drawn
    (None while none is).
    """

    geometry: np.ndarray
    alpha: np.ndarray
    colour: np.ndarray | None = None
    textured: np.ndarray | None = None
    box: tuple[slice, slice] | None = None

    def add(self, area: tuple[slice, slice], geometry: torch.Tensor, alpha: torch.Tensor,
            colour: torch.Tensor | None, textured: torch.Tensor | None = None) -> None:
        """Draw one face's window `area` over the faces already drawn: renders (1, 3, h, w) and alpha
        (1, 1, h, w) premultiplied over black, values in [0, 1]."""
        alpha = alpha[0].permute(1, 2, 0).clamp(0, 1)
        self.geometry[area] = _over(geometry[0].permute(1, 2, 0) * 255, alpha, self.geometry[area])
        for layer, render in ((self.colour, colour), (self.textured, textured)):
            if layer is not None and render is not None:
                layer[area] = _over(render[0].permute(1, 2, 0) * 255, alpha, layer[area])
        drawn = torch.from_numpy(self.alpha[area])
        self.alpha[area] = torch.addcmul(alpha, 1 - alpha, drawn).numpy()
        if self.box is None:
            self.box = area
        else:
            self.box = tuple(slice(min(a.start, b.start), max(a.stop, b.stop))
                             for a, b in zip(self.box, area, strict=True))

    def over(self, layer: np.ndarray, image: np.ndarray) -> np.ndarray:
        """`layer` (this record's `geometry` or `colour`) composited over a copy of `image` (H, W, 3) uint8."""
        out = image.copy()
        if self.box is not None:
            out[self.box] = _over(torch.from_numpy(layer[self.box]), torch.from_numpy(self.alpha[self.box]),
                                  out[self.box])
        return out


def _over(premultiplied: torch.Tensor, alpha: torch.Tensor, under: np.ndarray) -> np.ndarray:
    """Porter-Duff "over" in 0-255 units: premultiplied (h, w, 3) + (1 - alpha (h, w, 1)) * under (h, w, 3)
    uint8 -> (h, w, 3) uint8 (torch: a third of numpy's time here)."""
    return torch.addcmul(premultiplied + 0.5, 1 - alpha, torch.from_numpy(under)).clamp_(0, 255).to(torch.uint8).numpy()


def face_texture(builder: TextureBuilder, image: np.ndarray, face: Face, crop_size: int) -> FaceTexture:
    """The texture of a reconstructed `face` of `image` (its crops `crop_size` px)."""
    params, decoded = face.params, face.decoded
    screen = screen_in_image(decoded.vertices, params.scale, params.offset, crop_size, face.to_input[None])
    return builder(image, decoded.vertices[0], screen[0], decoded.albedo[0], params.light[0])


class OutputWriter:
    """Writes a reconstruction's files: meshes, renders and overlays at the photo's size, params.json, and
    (with a `texture` configuration and a model with UVs) each face's texture taken from the photo."""

    def __init__(self, reconstructor: Reconstructor, texture: TextureConfig | None = DEFAULT_TEXTURE) -> None:
        self.reconstructor = reconstructor
        self.provenance = reconstructor.provenance()
        self._renderers: dict[tuple[int, int], Renderer] = {}
        model = reconstructor.model
        self.texture_config = texture if model.uv is not None else None
        self.atlas = atlas_of(model) if self.texture_config is not None else None
        self._textures: TextureBuilder | None = None

    def texture(self, image: np.ndarray, face: Face) -> FaceTexture | None:
        """`face`'s texture from `image` (None without a texture configuration). The builder is made at the
        first call (about 1 s)."""
        if self.texture_config is None:
            return None
        if self._textures is None:
            self._textures = TextureBuilder(self.reconstructor.model, self.texture_config)
        return face_texture(self._textures, image, face, self.reconstructor.crop.size)

    def photo(self, path: Path, folder: Path, image: np.ndarray, faces: list[Face], started: float,
              colour_render: bool = True) -> list[dict]:
        """Write `folder`/{params.json, mesh.obj (mesh_K.obj for face K > 0), render.png (unless not
        `colour_render`), overlay.png} and, when texturing, texture.png + mesh.mtl (texture_K.png,
        mesh_K.mtl) and textured.png (the faces rendered with their textures over the photo); params.json
        last (it marks the photo done). `started`: `time.perf_counter()` at the photo's start. `timings_ms`
        gets "total" (reading the photo to its decoded faces: what a library call costs), "texture" (the
        faces' textures, when made) and "write_outputs" (everything written, the textures included).
        Returns the faces' entries of params.json, as written."""
        reconstructed = time.perf_counter()
        folder.mkdir(parents=True, exist_ok=True)
        textures = [self.texture(image, face) for face in faces]
        textured = time.perf_counter()
        for i, (face, texture) in enumerate(zip(faces, textures, strict=True)):
            name = "" if i == 0 else f"_{i}"
            if texture is not None:
                save_image(folder / f"texture{name}.png", texture.image)
                write_mtl(folder / f"mesh{name}.mtl", f"texture{name}.png")
            material = None if texture is None else f"mesh{name}.mtl"
            self.mesh(folder / f"mesh{name}.obj", face.decoded.unposed[0], material)
        layers = self._render(image, faces, colour=colour_render, textures=textures)
        if colour_render:
            save_image(folder / "render.png", layers.over(layers.colour, image))
        if layers.textured is not None:
            save_image(folder / "textured.png", layers.over(layers.textured, image))
        panels = [image, draw_landmarks(image, [face.detection for face in faces]),
                  layers.over(layers.geometry, image), layers.geometry]
        save_image(folder / "overlay.png", np.concatenate(panels, 1))
        timings = {**faces[0].timings_ms, "total": 1000 * (reconstructed - started),
                   "write_outputs": 1000 * (time.perf_counter() - reconstructed)}
        if textures[0] is not None:
            timings["texture"] = 1000 * (textured - reconstructed)
        records = [self.record(i, face, timings, texture)
                   for i, (face, texture) in enumerate(zip(faces, textures, strict=True))]
        write_params(folder / "params.json", path, image.shape[1], image.shape[0], records, self.provenance)
        return records

    def record(self, index: int, face: Face, timings_ms: dict[str, float],
               texture: FaceTexture | None = None) -> dict:
        """The face's params.json entry; `texture`: {file, seen (the share of the frontal face's texels the
        photo shows; the rest came from the mirrored side, then the albedo), mostly_hidden} or None."""
        record = face_record(index, face, self.reconstructor.decoder, self.reconstructor.crop.size, timings_ms)
        record["texture"] = None if texture is None else {
            "file": "texture.png" if index == 0 else f"texture_{index}.png", "seen": round(texture.seen, 3),
            "mostly_hidden": texture.mostly_hidden}
        return record

    def mesh(self, path: Path, vertices: torch.Tensor, material: str | None = None) -> None:
        """`vertices` (V, 3), a face without head rotation (`Decoded.unposed`, model units), as OBJ with the
        model's UVs when it has them; with a `material` (an MTL file beside it) the texture atlas's UVs
        (`emoca.texture.atlas`) and that material."""
        model = self.reconstructor.decoder.model
        uv = mesh_uv(model, material is not None)
        write_obj(path, vertices.numpy(), model.triangles.cpu().numpy(), model.units, *uv, material=material)

    def _renderer(self, height: int, width: int) -> Renderer:
        """A renderer of `height` x `width` images (with the texture atlas's UVs when texturing), kept while
        sizes repeat (windows are rounded to `WINDOW_STEP`, so a video's frames reuse a few)."""
        if (height, width) not in self._renderers:
            if len(self._renderers) >= 16:
                self._renderers.clear()
            uv = (None, None) if self.atlas is None else (torch.from_numpy(self.atlas.triangles_uv),
                                                          torch.from_numpy(self.atlas.uv))
            self._renderers[(height, width)] = Renderer(self.reconstructor.model.triangles.cpu(), *uv,
                                                        config=RendererConfig(image_size=(height, width)))
        return self._renderers[(height, width)]

    def _render(self, image: np.ndarray, faces: list[Face], colour: bool,
                textures: list[FaceTexture | None] | None = None) -> FaceLayers:
        """The faces drawn at the photo's size (the colour render only if `colour`; the textured render of
        the faces with a texture in `textures`). Each face is rendered only in the window its projected
        mesh covers (the same pixels as a whole-image render, far fewer to shade); faces are layered in
        order (nearer faces drawn last would need depth; faces rarely overlap)."""
        height, width = image.shape[:2]
        crop_size = self.reconstructor.crop.size
        textures = textures or [None] * len(faces)
        blank = lambda: np.zeros((height, width, 3), np.uint8)  # noqa: E731
        layers = FaceLayers(blank(), np.zeros((height, width, 1), np.float32), blank() if colour else None,
                            blank() if any(t is not None for t in textures) else None)
        with torch.no_grad():
            for face, texture in zip(faces, textures, strict=True):
                params, vertices = face.params, face.decoded.vertices
                screen = screen_in_image(vertices, params.scale, params.offset, crop_size, face.to_input[None])
                window = _window(screen[0, :, :2].numpy(), height, width)
                if window is None:  # the face lies outside the image
                    continue
                top, left, rows, columns = window
                renderer = self._renderer(rows, columns)
                screen = screen - torch.tensor([left, top, 0.0, 0.0], dtype=screen.dtype)
                geometry, alpha = renderer.geometry(vertices, screen)
                render = renderer(vertices, screen, face.decoded.albedo, params.light).image if colour else None
                textured = None
                if texture is not None:
                    pixels = torch.from_numpy(texture.image).permute(2, 0, 1)[None].float() / 255
                    textured = renderer(vertices, screen, pixels, params.light).image
                layers.add((slice(top, top + rows), slice(left, left + columns)), geometry, alpha, render, textured)
        return layers

    def video(self, path: Path, folder: Path) -> int:
        """Write `folder`/{params.jsonl (one line per frame), overlay.mp4 (frame | geometry), mesh.obj (the
        identity, neutral expression)} and, when texturing, one texture of the person (texture.png +
        mesh.mtl) from the frame where the head is most frontal (the smallest head rotation; a frame is
        copied only when it beats the best so far); returns the number of frames written. A video that
        stops decoding early keeps what was decoded and then raises `InputError` saying so."""
        reader = VideoReader(path)
        folder.mkdir(parents=True, exist_ok=True)
        video = VideoReconstructor(self.reconstructor)
        written, last, frontal = 0, None, (np.inf, None, None)  # (rotation angle, frame, face)
        size = (2 * reader.width, reader.height)
        with atomic_path(folder / "params.jsonl") as lines_path, open(lines_path, "w") as lines, \
                VideoWriter(folder / "overlay.mp4", reader.fps, size, preset="veryfast") as overlay:
            frames = tqdm(reader, total=reader.frame_count or None, desc=path.name, unit="frame", leave=False,
                          file=sys.stderr)
            for frame in video.frames(iter(frames), reader.fps):
                geometry = frame.image
                faces = []
                if frame.face is not None:
                    layers = self._render(frame.image, [frame.face], colour=False)
                    geometry = layers.over(layers.geometry, frame.image)
                    faces = [self.record(0, frame.face, {})]
                    last = frame.face.params
                    angle = float(last.rotation.norm())
                    if self.texture_config is not None and angle < frontal[0]:
                        frontal = (angle, frame.image.copy(), frame.face)
                overlay.write(np.concatenate([frame.image, geometry], 1))
                lines.write(json.dumps({"frame": frame.index, "time_s": round(frame.index / reader.fps, 4),
                                        "faces": faces}) + "\n")
                written += 1
            if last is None:  # nothing to keep: the outputs are discarded
                raise InputError(path, reader.error or f"no face found in any of its {written} frames")
        if last is not None:
            neutral = last.replace(expression=torch.zeros_like(last.expression),
                                   jaw=None if last.jaw is None else torch.zeros_like(last.jaw))
            texture = None if frontal[1] is None else self.texture(frontal[1], frontal[2])
            if texture is not None:
                save_image(folder / "texture.png", texture.image)
                write_mtl(folder / "mesh.mtl", "texture.png")
            decoder = self.reconstructor.decoder
            with torch.no_grad():
                vertices = decoder.unposed(neutral.to(decoder.device)).cpu()[0]
            self.mesh(folder / "mesh.obj", vertices, material=None if texture is None else "mesh.mtl")
        if reader.error:
            raise InputError(path, f"{reader.error}; wrote the {written} decoded frames")
        return written
