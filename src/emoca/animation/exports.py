"""Exports of a capture (params.json or params.jsonl) in the formats animation tools read.

- `arkit-csv`: a Live Link Face take (`emoca.animation.arkit_csv`); ICT's 53 weights as ARKit's 52
  (`emoca.facemodel.arkit`: browInnerUp and cheekPuff are the means of ICT's halves, tongueOut is 0).
- `glb`: the person's whole head (face, head and neck, eye sockets, eyeballs), the 53 expressions and 4
  gaze shapes as morph targets, and an animation of their weights and the head rotation at the video's
  frame rate (`emoca.animation.puppet`).
- `obj-seq`: a folder with one OBJ per frame (`frame_000000.obj`...), model units, head rotation applied
  unless `pose` is off.
- `flame-npz` (FLAME captures only): `shape` (S,), `expression` (N, E), `pose` (N, 15) in FLAME 2020's
  layout (global, neck, jaw, left eye, right eye; axis-angle radians), `trans` (N, 3), `times` (N,), `fps`.

A frame without a face holds the last face before it (frames before the first face hold the first).
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation
from tqdm import tqdm

from emoca.animation.arkit_csv import ArkitFrame, write_arkit_csv
from emoca.animation.puppet import GAZE_TARGET_RAD, GAZE_TARGETS, Puppet
from emoca.decode.decoder import FaceDecoder
from emoca.decode.gaze import turn_eyes
from emoca.errors import InputError
from emoca.facemodel import load_model
from emoca.facemodel.arkit import ict_to_arkit
from emoca.facemodel.geometry import eye_rotation, rigid_transform
from emoca.io.atomic import atomic_path, write_with_atomic
from emoca.io.mesh_export import MorphAnimation, write_glb, write_mtl, write_obj
from emoca.output.capture import Capture, CapturedFace, CaptureFrame
from emoca.texture.atlas import mesh_uv

STILL_FPS = 30.0  # the frame rate of a take from a photo or a video without frame times


def gaze_weights(gaze: np.ndarray) -> np.ndarray:
    """(N, 2) gaze radians -> (N, 4) weights of `GAZE_TARGETS` (left, right, up, down)."""
    yaw, pitch = np.asarray(gaze, np.float32).T / GAZE_TARGET_RAD
    return np.clip(np.stack([yaw, -yaw, pitch, -pitch], 1), 0, None)


def animation_row(face: CapturedFace, names: tuple[str, ...]) -> np.ndarray:
    """One row of a GLB animation: the face's weights in the order of `names`, then the weights of the
    four `GAZE_TARGETS`."""
    return np.concatenate([face.weights_in(names), gaze_weights(face.gaze_or_ahead[None])[0]])


def _progress(capture: Capture, frames: Iterator[CaptureFrame]) -> Iterator[CaptureFrame]:
    return tqdm(frames, desc=capture.path.name, unit="frame", leave=False, disable=not capture.is_video)


def export_arkit_csv(capture: Capture, out: Path, pose: bool, names: tuple[str, ...] | None = None) -> int:
    """`names`: ICT's expression names (None: read from the model)."""
    if capture.first_face().model != "ict":
        raise InputError(capture.path, "arkit-csv needs an ICT capture (FLAME captures: use flame-npz)")
    names = names or tuple(load_model("ict").expression_names)

    frames = (arkit_frame(frame.face, frame.time_s, names, pose) for frame in _progress(capture, capture.held()))
    return write_arkit_csv(out, frames, capture.fps or STILL_FPS)


def arkit_frame(face: CapturedFace, time_s: float, names: tuple[str, ...], pose: bool) -> ArkitFrame:
    """One row of an ARKit take: `face`'s ICT weights (in the order of `names`) as ARKit's 52, its head
    rotation (zeros unless `pose`) and gaze, at `time_s` seconds."""
    coefficients = ict_to_arkit(torch.as_tensor(face.weights_in(names), dtype=torch.float64)).numpy()
    return ArkitFrame(time_s, coefficients, face.rotation if pose else np.zeros(3), face.gaze_or_ahead)


def write_animated_glb(path: Path, puppet: Puppet, times: list[float], weights: list[np.ndarray],
                       rotations: list[np.ndarray], texture_png: bytes | None = None) -> None:
    """The puppet's head as GLB: its expressions and `GAZE_TARGETS` as morph targets, animated by
    `weights` (rows of len(names) + 4) and head `rotations` (axis-angle) at `times` (seconds); with a
    `texture_png` (an atlas texture, `emoca.texture`) as its base colour through the atlas's UVs."""
    model = puppet.model
    quaternions = Rotation.from_rotvec(np.asarray(rotations, np.float64).reshape(-1, 3)).as_quat()  # x, y, z, w
    deltas = np.concatenate([puppet.deltas.numpy(), puppet.gaze_deltas()])
    write_glb(path, puppet.base.numpy(), model.triangles.numpy(), model.units, deltas,
              list(puppet.names) + list(GAZE_TARGETS), *mesh_uv(model, texture_png is not None),
              animation=MorphAnimation(np.asarray(times), np.asarray(weights), quaternions), texture_png=texture_png)


def export_glb(capture: Capture, out: Path, pose: bool) -> int:
    puppet = Puppet(FaceDecoder(load_model("ict")), capture.first_face(), capture.texture_png())
    times, weights, rotations = [], [], []
    for frame in _progress(capture, capture.held()):
        times.append(frame.time_s)
        weights.append(animation_row(frame.face, puppet.names))
        rotations.append(frame.face.rotation if pose else np.zeros(3))
    write_animated_glb(out, puppet, times, weights, rotations, puppet.texture_png)
    return len(times)


def export_obj_sequence(capture: Capture, out: Path, pose: bool, flame: str | None) -> int:
    name = capture.first_face().model
    model = load_model(name, flame if name == "flame" else None)
    decoder = FaceDecoder(model)
    capture.first_face().check_fits(decoder)
    texture = capture.texture_png() if model.uv is not None else None
    uv = mesh_uv(model, texture is not None)
    out.mkdir(parents=True, exist_ok=True)
    if texture is not None:  # every frame's OBJ uses the one texture
        write_with_atomic(out / "texture.png", lambda tmp: tmp.write_bytes(texture))
        write_mtl(out / "frames.mtl", "texture.png")
    count = 0
    for frame in _progress(capture, capture.held()):
        face = frame.face
        params = face.params()
        with torch.no_grad():
            vertices = decoder.unposed(params)
            if face.gaze is not None:
                vertices = turn_eyes(model, vertices, torch.zeros(1, 3), torch.as_tensor(face.gaze[None]))
            if pose:
                vertices = rigid_transform(vertices, params.rotation, torch.zeros(1, 3))
        write_obj(out / f"frame_{frame.index:06d}.obj", vertices[0].numpy(), model.triangles.numpy(), model.units, *uv,
                  material=None if texture is None else "frames.mtl")
        count += 1
    return count


def export_flame_npz(capture: Capture, out: Path, pose: bool) -> int:
    if capture.first_face().model != "flame":
        raise InputError(capture.path, "flame-npz needs a FLAME capture (emoca reconstruct --model flame)")
    shape = capture.first_face().identity
    expressions, poses, times = [], [], []
    for frame in _progress(capture, capture.held()):
        face = frame.face
        gaze = torch.as_tensor(face.gaze_or_ahead[None], dtype=torch.float64)
        eye = Rotation.from_matrix(eye_rotation(gaze)[0].numpy()).as_rotvec()
        jaw = face.jaw if face.jaw is not None else np.zeros(3)
        poses.append(np.concatenate([face.rotation if pose else np.zeros(3), np.zeros(3), jaw, eye, eye]))
        expressions.append(face.expression)
        times.append(frame.time_s)
    arrays = {"shape": shape, "expression": np.asarray(expressions, np.float32), "pose": np.asarray(poses, np.float32),
              "trans": np.zeros((len(times), 3), np.float32), "times": np.asarray(times, np.float32),
              "fps": np.float32(capture.fps or 0.0)}
    with atomic_path(out) as tmp, open(tmp, "wb") as file:
        np.savez(file, **arrays)
    return len(times)
