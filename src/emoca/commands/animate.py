"""`emoca animate SOURCE --target TARGET --out DIR`: one face's expressions (and head pose) on another face.

SOURCE: a video, a folder of frames (sorted by name, at `fps`), a `params.jsonl`, a photo or a
`params.json`; photos and videos are reconstructed first (`method`). TARGET: a photo (reconstructed),
a `params.json`, or `neutral` (ICT's mean face). The target keeps its identity, albedo and light, and
its texture where it has one (a photo's own; a params.json's `texture.png` beside it: rendered and in
the GLB); it takes the source's 53 expression weights, gaze and (unless `pose` is off) head rotation.

Writes into DIR, for a moving source: `animation.mp4` (the target, square, with the source video's audio),
`side_by_side.mp4` (the source frame, or for a params.jsonl the source's own face rendered, | the
target) and `animation.glb` (the target's head with the expressions as morph targets and the
animation). For a still source: `animation.png` and `side_by_side.png` (expression transfer).
Frames are streamed: memory does not grow with the length. A source frame without a face holds the
last face before it (before the first face: the neutral expression).
"""

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from emoca.animation.exports import animation_row, write_animated_glb
from emoca.animation.puppet import GAZE_TARGETS, Framing, Puppet
from emoca.decode.decoder import FaceDecoder
from emoca.errors import InputError
from emoca.facemodel import load_model
from emoca.io.atomic import ensure_writable_folder
from emoca.io.image_output import png_bytes, save_image
from emoca.io.images import IMAGE_SUFFIXES, load_image
from emoca.io.video import VIDEO_SUFFIXES, VideoReader, VideoWriter
from emoca.methods import FAST_METHOD
from emoca.output.capture import Capture, CapturedFace
from emoca.output.params_json import face_record
from emoca.output.writer import face_texture
from emoca.pipeline.photo import Face, Reconstructor, ReconstructorConfig
from emoca.pipeline.video import VideoReconstructor
from emoca.texture.from_photo import TextureBuilder

DEFAULT_SIZE = 384  # pixels, the render of a capture's or photo's animation
PRESET = "veryfast"  # x264: a third faster than its default here, at a similar size for these renders


@dataclass
class AnimateConfig:
    """pose: the target turns its head as the source does. method: how photos and videos are
    reconstructed. size: the target's square render, pixels (None: the source video's height, else
    `DEFAULT_SIZE`). fps: frame rate of a folder of frames."""

    pose: bool = True
    method: str = FAST_METHOD
    size: int | None = None
    fps: float = 25.0


@dataclass
class SourceFrame:
    """One source frame: time (s), its picture (None for a capture) and its face (None: no face)."""

    time_s: float
    image: np.ndarray | None
    face: CapturedFace | None


class Animator:
    """Loads the reconstructor only when a photo or video needs it."""

    def __init__(self, config: AnimateConfig) -> None:
        self.config = config
        self.decoder = FaceDecoder(load_model("ict"))
        self._reconstructor: Reconstructor | None = None

    @property
    def reconstructor(self) -> Reconstructor:
        if self._reconstructor is None:
            self._reconstructor = Reconstructor(ReconstructorConfig(method=self.config.method))
        return self._reconstructor

    def captured(self, face: Face) -> CapturedFace:
        """A reconstructed face as its params.json record says it."""
        reconstructor = self.reconstructor
        return CapturedFace.from_record(face_record(0, face, reconstructor.decoder, reconstructor.crop.size, {}))

    def photo_face(self, path: Path, textured: bool = False) -> tuple[CapturedFace, bytes | None]:
        """The photo's main face, and (when `textured`) its texture as PNG bytes."""
        image = load_image(path)
        faces = self.reconstructor.reconstruct(image)
        if not faces:
            raise InputError(path, "no face found")
        texture = None
        if textured:
            builder = TextureBuilder(self.reconstructor.model)
            texture = png_bytes(face_texture(builder, image, faces[0], self.reconstructor.crop.size).image)
        return self.captured(faces[0]), texture

    def target(self, target: str) -> Puppet:
        """The target's puppet: `neutral`, a params.json (with the texture.png beside it, if any), or a
        photo (textured from itself)."""
        if target == "neutral":
            return Puppet.neutral(self.decoder)
        path = Path(target)
        if path.suffix.lower() == ".json":
            capture = Capture(path)
            return Puppet(self.decoder, capture.first_face(), capture.texture_png())
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return Puppet(self.decoder, *self.photo_face(path, textured=True))
        raise InputError(path, "a target is a photo, a params.json or 'neutral'")

    def video_frames(self, path: Path) -> tuple[Iterator[SourceFrame], float, int, Path | None]:
        """A video's or a folder's frames reconstructed: (frames, fps, frame count or 0, audio source)."""
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise InputError(path, "the folder has no images")
            images, fps, count, audio = (load_image(p) for p in files), self.config.fps, len(files), None
        else:
            reader = VideoReader(path)
            images, fps, count, audio = iter(reader), reader.fps, reader.frame_count, path
        video = VideoReconstructor(self.reconstructor)
        frames = (SourceFrame(result.index / fps, result.image,
                              None if result.face is None else self.captured(result.face))
                  for result in video.frames(images, fps))
        return frames, fps, count, audio


def _held(frames: Iterator[SourceFrame]) -> Iterator[SourceFrame]:
    """Frames without a face take the last face before them (None before the first face)."""
    last = None
    for frame in frames:
        last = frame.face or last
        yield SourceFrame(frame.time_s, frame.image, last)


def _side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`left` scaled to `right`'s height, then `right` beside it (width made even for H.264)."""
    height = right.shape[0]
    width = max(2, round(left.shape[1] * height / left.shape[0]))
    width += width % 2
    scaled = np.asarray(Image.fromarray(left).resize((width, height), Image.BILINEAR))
    return np.concatenate([scaled, right], 1)


class Driving:
    """The target posed by source faces: weights (target's names), gaze, rotation; renders and GLB rows."""

    def __init__(self, puppet: Puppet, framing: Framing, pose: bool) -> None:
        self.puppet, self.framing, self.pose = puppet, framing, pose
        self.times: list[float] = []
        self.rows: list[np.ndarray] = []
        self.rotations: list[np.ndarray] = []

    def __call__(self, time_s: float, face: CapturedFace | None) -> np.ndarray:
        """The target's (size, size, 3) render with `face`'s expression (None: neutral)."""
        names = self.puppet.names
        row = np.zeros(len(names) + len(GAZE_TARGETS), np.float32) if face is None else animation_row(face, names)
        gaze = np.zeros(2, np.float32) if face is None else face.gaze_or_ahead
        rotation = np.zeros(3, np.float32) if face is None or not self.pose else face.rotation
        self.times.append(time_s)
        self.rows.append(row)
        self.rotations.append(rotation)
        vertices = self.puppet.vertices(torch.as_tensor(row[None, :len(names)]), torch.as_tensor(gaze[None]),
                                        torch.as_tensor(rotation[None]))
        return self.puppet.render(vertices, self.framing)[0]


def _still(animator: Animator, source: Path, puppet: Puppet, out: Path, size: int) -> None:
    """Expression transfer from one photo or params.json: animation.png and side_by_side.png."""
    if source.suffix.lower() == ".json":
        face, picture = Capture(source).first_face(), None
    else:
        picture = load_image(source)
        face, _ = animator.photo_face(source)
    driving = Driving(puppet, puppet.framing(size), animator.config.pose)
    render = driving(0.0, face)
    if picture is None:
        own = Puppet(animator.decoder, face)
        picture = own.render(_own_vertices(own, face, animator.config.pose), own.framing(size))[0]
    save_image(out / "animation.png", render)
    save_image(out / "side_by_side.png", _side_by_side(picture, render))


def run_animate(source: str, target: str, out: str, config: AnimateConfig) -> int:
    """Animate `target` with `source` into `out`; returns the exit status (bad inputs raise `InputError`)."""
    animator = Animator(config)
    source_path, out_path = Path(source), ensure_writable_folder(out)
    if not source_path.exists():
        raise InputError(source_path, "no such file or folder")
    puppet = animator.target(target)
    suffix = source_path.suffix.lower()
    if suffix == ".json" or suffix in IMAGE_SUFFIXES:
        _still(animator, source_path, puppet, out_path, config.size or DEFAULT_SIZE)
        print(f"{out_path / 'animation.png'}: expression of {source_path.name} on {target}")
        return 0
    own: Puppet | None = None
    if suffix == ".jsonl":
        capture = Capture(source_path)
        own = Puppet(animator.decoder, capture.first_face())  # the source's own face for the left panel
        frames, fps, count, audio = ((SourceFrame(f.time_s, None, f.face) for f in capture.frames()),
                                     capture.fps or 30.0, 0, None)
    elif source_path.is_dir() or suffix in VIDEO_SUFFIXES:
        frames, fps, count, audio = animator.video_frames(source_path)
    else:
        raise InputError(source_path, "a source is a video, a folder of frames, a params.jsonl, a photo or a "
                                      "params.json")
    frames = _held(frames)
    first = next(frames, None)
    if first is None:
        raise InputError(source_path, "no frames")
    size = config.size or (first.image.shape[0] - first.image.shape[0] % 2 if first.image is not None
                           else DEFAULT_SIZE)
    driving = Driving(puppet, puppet.framing(size), config.pose)
    own_framing = None if own is None else own.framing(size)
    seen_face = False
    with ExitStack() as writers:
        animation = writers.enter_context(VideoWriter(out_path / "animation.mp4", fps, (size, size), audio_from=audio,
                                                      preset=PRESET))
        side_by_side = None
        for frame in tqdm(chain([first], frames), total=count or None, desc=source_path.name, unit="frame",
                          leave=False, file=sys.stderr):
            seen_face |= frame.face is not None
            render = driving(frame.time_s, frame.face)
            left = (frame.image if own is None
                    else own.render(_own_vertices(own, frame.face, config.pose), own_framing)[0])
            panel = _side_by_side(left, render)
            if side_by_side is None:
                side_by_side = writers.enter_context(
                    VideoWriter(out_path / "side_by_side.mp4", fps, panel.shape[1::-1], audio_from=audio,
                                preset=PRESET))
            side_by_side.write(panel)
            animation.write(render)
        if not seen_face:
            raise InputError(source_path, "no face found in any frame")
    write_animated_glb(out_path / "animation.glb", puppet, driving.times, driving.rows, driving.rotations,
                       puppet.texture_png)
    print(f"{out_path}: {len(driving.times)} frames of {source_path.name} on {target}")
    return 0


def _own_vertices(own: Puppet, face: CapturedFace | None, pose: bool) -> torch.Tensor:
    """The source's own face posed as captured (neutral where it has no face yet)."""
    if face is None:
        return own.vertices(torch.zeros(1, len(own.names)))
    gaze = None if face.gaze is None else torch.as_tensor(face.gaze[None])
    return own.vertices(torch.as_tensor(face.weights_in(own.names)[None]), gaze,
                        torch.as_tensor(face.rotation[None]) if pose else None)
