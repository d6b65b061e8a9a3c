"""Reading `emoca reconstruct`'s results back: a photo's `params.json` or a video's `params.jsonl`.

A capture is a sequence of frames (one for a photo), each with its main face (`faces[0]`) or None;
`params.jsonl` is read a line at a time, so memory does not grow with the video's length. Any file that
is not such a result raises `InputError` naming the file (and the line) and the reason.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from emoca.decode.albedo import DEFAULT_COLOURS
from emoca.errors import InputError
from emoca.face_params import FaceParams
from emoca.facemodel.face_regions import REGIONS

if TYPE_CHECKING:
    from emoca.decode.decoder import FaceDecoder


def _finite(values: object, shape: int | tuple[int, ...]) -> np.ndarray:
    """`values` as a float32 array of `shape` (ValueError: another size, or a value that is not finite)."""
    array = np.asarray(values, np.float32).reshape(shape)
    if not np.isfinite(array).all():
        raise ValueError("a value is not a finite number")
    return array


@dataclass
class CapturedFace:
    """One face as `params.json` records it (model units and axes, DESIGN.md section 3).

    model: "ict" or "flame". identity: (K,) the person's identity weights. expression_names: the model's
    expression names; expression: (E,) in that order. jaw: (3,) axis-angle radians (FLAME) or None.
    rotation: (3,) head rotation, axis-angle radians. gaze: (2,) [yaw, pitch] radians or None. light:
    (9, 3) spherical harmonics; colours: (R, 3) albedo region colours; coefficients: (C, 3) albedo basis.
    """

    model: str
    identity: np.ndarray
    expression_names: tuple[str, ...]
    expression: np.ndarray
    jaw: np.ndarray | None
    rotation: np.ndarray
    gaze: np.ndarray | None
    light: np.ndarray
    colours: np.ndarray
    coefficients: np.ndarray

    @classmethod
    def from_record(cls, record: dict) -> "CapturedFace":
        """Parse one entry of `faces` (raises KeyError, TypeError or ValueError when malformed). Files
        written before the brow region (schema 5 and older) get the default brow colour."""
        albedo = record["albedo"]
        basis = next(value for key, value in albedo.items() if key.endswith("_coefficients"))
        eyes, jaw = record.get("eyes"), record.get("jaw")
        array = _finite
        expression = record["expression"]
        return cls(model=str(record["model"]), identity=array(record["identity"], -1),
                   expression_names=tuple(expression), expression=array(list(expression.values()), -1),
                   jaw=None if jaw is None else array(jaw["rotation"], 3),
                   rotation=array(record["pose"]["rotation"], 3),
                   gaze=None if eyes is None else array(eyes["gaze"], 2),
                   light=array(record["light"]["coefficients"], (9, 3)),
                   colours=array([albedo["regions"].get(name, DEFAULT_COLOURS[r]) for r, name in enumerate(REGIONS)],
                                 (len(REGIONS), 3)),
                   coefficients=array(basis, (-1, 3)))

    @property
    def gaze_or_ahead(self) -> np.ndarray:
        """(2,) the gaze, or zeros (straight ahead) where none was found."""
        return np.zeros(2, np.float32) if self.gaze is None else self.gaze

    def check_fits(self, decoder: "FaceDecoder") -> None:
        """Raises `InputError` (without a path) when the face's sizes are not those of `decoder`'s model."""
        model, expected = decoder.model, {"identity": decoder.model.n_identity,
                                          "albedo coefficients": decoder.albedo.n_coefficients,
                                          "albedo regions": len(REGIONS)}
        found = {"identity": len(self.identity), "albedo coefficients": len(self.coefficients),
                 "albedo regions": len(self.colours)}
        for what, count in expected.items():
            if found[what] != count:
                raise InputError(None, f"the capture has {found[what]} {what}, the {type(model).__name__} here "
                                       f"{count} (made with another face model?)")
        self.weights_in(tuple(model.expression_names))

    def weights_in(self, names: tuple[str, ...]) -> np.ndarray:
        """(len(names),) the expression weights in the order of `names`.

        Raises:
            InputError: (without a path) a name the capture lacks (made with another face model)."""
        weights = dict(zip(self.expression_names, self.expression, strict=True))
        missing = [name for name in names if name not in weights]
        if missing:
            raise InputError(None, f"the capture has no expression {missing[0]!r} (made with another face model?)")
        return np.asarray([weights[name] for name in names], np.float32)

    def params(self, scale: float = 1.0, offset: tuple[float, float] = (0.0, 0.0)) -> FaceParams:
        """A batch of one `FaceParams` with this face and the given weak-perspective camera."""
        tensor = lambda a: torch.as_tensor(np.asarray(a, np.float32))[None]  # noqa: E731
        return FaceParams(tensor(self.identity), tensor(self.expression), tensor(self.rotation),
                          torch.tensor([scale]), tensor(offset), tensor(self.light), tensor(self.colours),
                          tensor(self.coefficients), None if self.jaw is None else tensor(self.jaw))


@dataclass
class CaptureFrame:
    """One frame: its index, its time (seconds) and its main face (None: no face in that frame)."""

    index: int
    time_s: float
    face: CapturedFace | None


class Capture:
    """A `params.json` (one frame) or `params.jsonl` (a video), read lazily.

    fps: the video's frame rate (from its frame times; None for a photo or a one-frame video).

    Raises:
        InputError: missing, unreadable, or not a result of `emoca reconstruct`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in (".json", ".jsonl"):
            raise InputError(self.path, "not a params.json or params.jsonl of emoca reconstruct")
        if not self.path.is_file():
            raise InputError(self.path, "no such file")
        self.is_video = self.path.suffix.lower() == ".jsonl"
        self.fps: float | None = None
        if self.is_video:
            for frame in self.frames():
                if frame.index > 0 and frame.time_s > 0:
                    self.fps = frame.index / frame.time_s
                    break

    def frames(self) -> Iterator[CaptureFrame]:
        """Every frame, in order, streamed."""
        try:
            with open(self.path, encoding="utf-8") as lines:
                if not self.is_video:
                    yield self._frame(json.load(lines), None)
                    return
                for number, line in enumerate(lines, 1):
                    if line.strip():
                        yield self._frame(json.loads(line), number)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError(self.path, f"not readable as JSON ({error})") from None

    def _frame(self, document: object, line: int | None) -> CaptureFrame:
        where = "" if line is None else f"line {line}: "
        try:
            faces = document["faces"]
            face = CapturedFace.from_record(faces[0]) if faces else None
            index = int(document.get("frame", 0))
            return CaptureFrame(index, float(document.get("time_s", 0.0)), face)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, StopIteration) as error:
            raise InputError(self.path, f"{where}not a face record of emoca reconstruct ({type(error).__name__}: "
                                        f"{error})") from None

    def first_face(self) -> CapturedFace:
        """The first frame's face that exists (the person).

        Raises:
            InputError: no frame has a face.
        """
        face = next((frame.face for frame in self.frames() if frame.face is not None), None)
        if face is None:
            raise InputError(self.path, "no frame has a face")
        return face

    @property
    def texture(self) -> Path | None:
        """The person's texture beside the capture (`texture.png`, written by `emoca reconstruct` since
        params.json's schema 7), or None where there is none."""
        path = self.path.parent / "texture.png"
        return path if path.is_file() else None

    def texture_png(self) -> bytes | None:
        """The bytes of `texture` (None without one).

        Raises:
            InputError: the texture exists but cannot be read.
        """
        if self.texture is None:
            return None
        try:
            data = self.texture.read_bytes()
        except OSError as error:
            raise InputError(self.texture, f"not readable ({error.strerror or error})") from None
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            raise InputError(self.texture, "not a PNG image")
        return data

    def held(self) -> Iterator[CaptureFrame]:
        """Every frame, a frame without a face holding the last face before it (frames before the first
        face hold the first face): animation tracks need a value at every frame."""
        last = self.first_face()
        for frame in self.frames():
            last = frame.face or last
            yield CaptureFrame(frame.index, frame.time_s, last)
