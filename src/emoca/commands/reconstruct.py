"""`emoca reconstruct`: a 3D face for every face in each photo, and for the person in each video
(fitting; see `emoca.fit.photo` and `emoca.fit.video`)."""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from emoca.commands.batch import BatchReport, iterate_images, unique_name
from emoca.commands.landmarks import draw_landmarks
from emoca.detect.affine import apply_affine, invert_affine
from emoca.detect.crops import CropConfig, crop_faces
from emoca.detect.pipeline import FaceLandmarker, FaceLandmarks
from emoca.errors import InputError
from emoca.facemodel.base import FaceModel
from emoca.facemodel.face_regions import REGIONS
from emoca.facemodel.flame import FLAMEConfig, FLAMEFaceModel
from emoca.facemodel.ict import ICTFaceModel
from emoca.fit.image_space import screen_in_image
from emoca.fit.photo import FitConfig, FitResult, FitTargets, PhotoFitter
from emoca.fit.video import VideoFitter
from emoca.io.atomic import atomic_path, ensure_writable_folder
from emoca.io.image_output import save_image
from emoca.io.images import IMAGE_SUFFIXES, load_image
from emoca.io.mesh_export import write_obj
from emoca.io.params_json import face_record, write_params
from emoca.io.video import VIDEO_SUFFIXES, VideoReader, VideoWriter
from emoca.render.renderer import Renderer, RendererConfig


def fit_targets(image: np.ndarray, faces: list[FaceLandmarks], crop: CropConfig) -> tuple[FitTargets, np.ndarray]:
    """Crops and crop-pixel landmarks of every face, and the (F, 2, 3) crop-to-input maps."""
    crops = crop_faces(image, np.stack([f.landmarks_68 for f in faces]), crop)
    to_crop = [invert_affine(m) for m in crops.to_input]
    pairs = list(zip(to_crop, faces, strict=True))
    targets = FitTargets(torch.from_numpy(crops.images).permute(0, 3, 1, 2).float() / 255,
                         torch.from_numpy(np.stack([apply_affine(m, f.landmarks_68) for m, f in pairs])).float(),
                         torch.from_numpy(np.stack([apply_affine(m, f.dense[:, :2]) for m, f in pairs])).float())
    return targets, crops.to_input


def load_face_model(name: str, flame: str | None) -> FaceModel:
    """The face model to fit: "ict" (shipped), or "flame" from the user's `generic_model.pkl` with a
    68-point landmark embedding beside it.

    Raises:
        InputError: FLAME without a file, or a file that is not a FLAME model / has no embedding.
    """
    if name == "ict":
        return ICTFaceModel()
    if flame is None:
        raise InputError("--flame", "--model flame needs your FLAME generic_model.pkl (FLAME is never shipped)")
    model = FLAMEFaceModel(FLAMEConfig(path=flame))
    if "ibug" not in model.embedded:
        raise InputError(flame, "no 68-point landmark embedding beside the model: put DECA's "
                                "landmark_embedding.npy next to it")
    return model


def check_device(device: str) -> str:
    """`device` if torch can use it here ("cpu", "cuda", "cuda:N").

    Raises:
        InputError: not a device name, or CUDA asked for where torch sees no CUDA device.
    """
    try:
        kind = torch.device(device).type
    except RuntimeError as error:
        raise InputError("--device", f"not a device: {error}") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise InputError("--device", f"{device} asked for, but torch sees no CUDA device here; use --device cpu")
    if kind not in ("cpu", "cuda"):
        raise InputError("--device", f"{device}: only cpu and cuda are supported")
    return device


class Reconstructor:
    """Detect, fit and write the outputs of one photo at a time (ICT unless another model is given).
    Fitting runs on `device`; detection and the output images stay on the CPU."""

    def __init__(self, model: FaceModel | None = None, device: str = "cpu") -> None:
        self.landmarker = FaceLandmarker()
        self.model = model or ICTFaceModel()
        self.fitter = PhotoFitter(self.model, FitConfig(device=device))
        self.crop = CropConfig(size=self.fitter.config.crop_size)
        self._image_renderer: Renderer | None = None

    def reconstruct(self, path: Path, folder: Path) -> int:
        """Write `folder`/{params.json, mesh.obj, render.png, overlay.png}; returns the number of faces."""
        start = time.perf_counter()
        image = load_image(path)
        faces = self.landmarker(image)
        if not faces:
            raise InputError(path, "no face found")
        detected = time.perf_counter()
        targets, to_input = fit_targets(image, faces, self.crop)
        result = self.fitter.fit(targets)
        fitted = time.perf_counter()
        folder.mkdir(parents=True, exist_ok=True)
        shapes = self._unposed(result.identity, result.expression)
        for i, vertices in enumerate(shapes):
            self._write_mesh(folder / ("mesh.obj" if i == 0 else f"mesh_{i}.obj"), vertices)
        render, geometry, covered = self._render(image, result, to_input, colour=True)
        save_image(folder / "render.png", np.where(covered, render, image))
        panels = [image, draw_landmarks(image, faces), np.where(covered, geometry, image), geometry]
        save_image(folder / "overlay.png", np.concatenate(panels, 1))
        timings = {"detect": 1000 * (detected - start), "fit_per_face": 1000 * (fitted - detected) / len(faces),
                   "total": 1000 * (time.perf_counter() - start)}
        records = [self._record(i, face, result, to_input[i], timings) for i, face in enumerate(faces)]
        write_params(folder / "params.json", path, image.shape[1], image.shape[0], records)  # last: marks done
        return len(faces)

    def reconstruct_video(self, path: Path, folder: Path) -> int:
        """Write `folder`/{params.jsonl (one line per frame), overlay.mp4 (frame | fitted geometry), mesh.obj
        (the identity, neutral expression)}; returns the number of frames written. A video that stops
        decoding early keeps what was decoded and then raises `InputError` saying so."""
        reader = VideoReader(path)
        folder.mkdir(parents=True, exist_ok=True)
        video = VideoFitter(self.landmarker, self.fitter, lambda image, faces: fit_targets(image, faces, self.crop))
        written, identity = 0, None
        size = (2 * reader.width, reader.height)
        with atomic_path(folder / "params.jsonl") as lines_path, open(lines_path, "w") as lines, \
                VideoWriter(folder / "overlay.mp4", reader.fps, size) as overlay:
            frames = tqdm(reader, total=reader.frame_count or None, desc=path.name, unit="frame", leave=False,
                          file=sys.stderr)
            for frame in video.frames(iter(frames), reader.fps):
                geometry = frame.image
                faces = []
                if frame.fit is not None:
                    _, grey, covered = self._render(frame.image, frame.fit, frame.to_input[None], colour=False)
                    geometry = np.where(covered, grey, frame.image)
                    faces = [self._record(0, frame.face, frame.fit, frame.to_input, {})]
                    identity = frame.fit.identity
                overlay.write(np.concatenate([frame.image, geometry], 1))
                lines.write(json.dumps({"frame": frame.index, "time_s": round(frame.index / reader.fps, 4),
                                        "faces": faces}) + "\n")
                written += 1
        if identity is not None:
            neutral = self._unposed(identity, torch.zeros(1, self.fitter.terms.n_expression))[0]
            self._write_mesh(folder / "mesh.obj", neutral)
        if reader.error:
            raise InputError(path, f"{reader.error}; wrote the {written} decoded frames")
        return written

    def _unposed(self, identity: torch.Tensor, expression: torch.Tensor) -> np.ndarray:
        """(B, V, 3) the faces without head rotation, model units (computed on the fit's device)."""
        device = self.fitter.device
        with torch.no_grad():
            return self.fitter.terms.unposed(identity.to(device), expression.to(device)).cpu().numpy()

    def _write_mesh(self, path: Path, vertices: np.ndarray) -> None:
        """(V, 3) unposed vertices (model units) as OBJ, with the model's UVs when it has them."""
        model = self.model
        uv = (model.uv.cpu().numpy(), model.triangles_uv.cpu().numpy()) if model.uv is not None else (None, None)
        write_obj(path, vertices, model.triangles.cpu().numpy(), model.units, *uv)

    def _renderer(self, height: int, width: int) -> Renderer:
        """A renderer at the photo's size, kept while sizes repeat (every frame of a video)."""
        if self._image_renderer is None or self._image_renderer.config.image_size != (height, width):
            self._image_renderer = Renderer(self.model.triangles.cpu(),
                                            config=RendererConfig(image_size=(height, width)))
        return self._image_renderer

    def _render(self, image: np.ndarray, result: FitResult, to_input: np.ndarray, colour: bool
                ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """At the photo's size: the colour render (None unless `colour`), the grey geometry ((H, W, 3) uint8
        each) and the (H, W, 1) bool coverage of all faces."""
        height, width = image.shape[:2]
        renderer = self._renderer(height, width)
        with torch.no_grad():
            screen = screen_in_image(result.vertices, result.scale, result.offset, self.crop.size, to_input)
            device = self.fitter.device
            albedo = (self.fitter.albedo(result.colours.to(device), result.coefficients.to(device)).cpu()
                      if colour else None)
            colours = np.zeros((height, width, 3), np.float32)
            grey = np.zeros_like(colours)
            covered = np.zeros((height, width, 1), bool)
            for i in range(len(screen)):  # nearer faces drawn last would need depth; faces rarely overlap
                vertices, face_screen = result.vertices[i:i + 1], screen[i:i + 1]
                geometry = renderer.geometry(vertices, face_screen)
                face_covered = geometry.sum(1)[0].numpy()[..., None] > 0
                grey = np.where(face_covered, geometry[0].permute(1, 2, 0).numpy(), grey)
                if colour:
                    out = renderer(vertices, face_screen, albedo[i:i + 1], result.light[i:i + 1])
                    colours = np.where(face_covered, out.image[0].permute(1, 2, 0).numpy(), colours)
                covered |= face_covered
        to_uint8 = lambda a: (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)  # noqa: E731
        return (to_uint8(colours) if colour else None), to_uint8(grey), covered

    def _record(self, index: int, face: FaceLandmarks, result: FitResult, to_input: np.ndarray,
                timings: dict[str, float]) -> dict:
        albedo_model, terms = self.fitter.albedo, self.fitter.terms
        albedo = {"type": f"regions+{albedo_model.basis_name}_cosine",
                  "regions": {name: result.colours[index, r].tolist() for r, name in enumerate(REGIONS)},
                  f"{albedo_model.basis_name}_coefficients": result.coefficients[index].tolist()}
        landmarks = apply_affine(to_input, result.landmarks_68[index].numpy())
        return face_record(index, face.box, face.score, face.detector, terms.name, result.identity[index].numpy(),
                           result.mesh_identity[index].numpy(), result.rotation[index].numpy(),
                           float(result.scale[index]), result.offset[index].numpy(),
                           self.crop.size, to_input, result.light[index].numpy(), albedo, landmarks, timings,
                           **terms.expression_fields(result.expression[index]))


def run_reconstruct(inputs: list[str], out: Path, as_json: bool, overwrite: bool, model_name: str,
                    flame: str | None, device: str = "cpu") -> int:
    """Reconstruct every input photo into `out`/NAME/; returns the exit status."""
    check_device(device)
    model = load_face_model(model_name, flame)
    ensure_writable_folder(out)
    report = BatchReport(as_json)
    reconstructor = Reconstructor(model, device)
    used: set[str] = set()
    for path in iterate_images(inputs, report, IMAGE_SUFFIXES | VIDEO_SUFFIXES):
        folder = out / unique_name(path.stem, used)
        try:
            is_video = path.suffix.lower() in VIDEO_SUFFIXES
            done = folder / ("params.jsonl" if is_video else "params.json")
            if done.exists() and not overwrite:
                print(f"emoca: skipped {path}: {done} exists (use --overwrite)", flush=True)
                continue
            count = (reconstructor.reconstruct_video if is_video else reconstructor.reconstruct)(path, folder)
        except InputError as error:
            report.error(error)
            continue
        if as_json:
            report.emit({"image": str(path), "out": str(folder), "frames" if is_video else "faces": count})
    return report.exit_status

