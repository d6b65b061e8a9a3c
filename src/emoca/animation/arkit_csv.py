"""ARKit takes as Live Link Face writes them: a CSV with a row per frame.

Columns (Epic's Live Link Face app, what Unreal's LiveLinkFaceImporter, Blender and Maya importers
read): `Timecode` (HH:MM:SS:FF.fff, FF the frame within the second at the take's rate, with its
fraction), `BlendShapeCount` (61: the 52 shapes and 9 rotations), the 52 ARKit coefficients in the
app's column order (`LIVE_LINK_COLUMNS`: Apple's order but JawRight before JawLeft and MouthRight
before MouthLeft), then HeadYaw, HeadPitch, HeadRoll, LeftEyeYaw, LeftEyePitch, LeftEyeRoll,
RightEyeYaw, RightEyePitch, RightEyeRoll.

Our rotations, in radians: the head's is split as R = Ry(yaw) Rx(pitch) Rz(roll) in ARKit's (and our)
face axes (+x the subject's left, +y up, +z towards the camera), each angle right-handed about its axis;
both eyes get the one gaze (+ yaw towards the subject's left, + pitch up), roll 0.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from emoca.errors import InputError
from emoca.facemodel.arkit import ARKIT_NAMES
from emoca.io.atomic import atomic_path

ROTATIONS = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw",
             "RightEyePitch", "RightEyeRoll")


def _live_link_order() -> tuple[str, ...]:
    names = [name[0].upper() + name[1:] for name in ARKIT_NAMES]
    for first, second in (("JawLeft", "JawRight"), ("MouthLeft", "MouthRight")):
        i, j = names.index(first), names.index(second)
        names[i], names[j] = names[j], names[i]
    return tuple(names)


LIVE_LINK_COLUMNS = _live_link_order()
HEADER = ("Timecode", "BlendShapeCount", *LIVE_LINK_COLUMNS, *ROTATIONS)
_FROM_APPLE = [ARKIT_NAMES.index(name[0].lower() + name[1:]) for name in LIVE_LINK_COLUMNS]


@dataclass
class ArkitFrame:
    """coefficients: (52,) in Apple's `ARKIT_NAMES` order; head: (3,) axis-angle radians; gaze: (2,)."""

    time_s: float
    coefficients: np.ndarray
    head: np.ndarray
    gaze: np.ndarray


def head_angles(axis_angle: np.ndarray) -> np.ndarray:
    """(3,) axis-angle -> [yaw, pitch, roll] radians with R = Ry(yaw) Rx(pitch) Rz(roll)."""
    return Rotation.from_rotvec(axis_angle).as_euler("YXZ")


def timecode(time_s: float, fps: float) -> str:
    """HH:MM:SS:FF.fff of a time in seconds, FF counted at `fps`."""
    whole = int(np.floor(time_s + 1e-9))
    frames = max(0.0, (time_s - whole) * fps)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}:{frames:06.3f}"


def write_arkit_csv(path: str | Path, frames: Iterable[ArkitFrame], fps: float) -> int:
    """Write a take atomically; returns its row count."""
    rows = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(HEADER) + "\n")
        for frame in frames:
            yaw, pitch, roll = head_angles(np.asarray(frame.head, np.float64))
            eye = [float(frame.gaze[0]), float(frame.gaze[1]), 0.0]
            values = [*np.asarray(frame.coefficients, np.float64)[_FROM_APPLE], yaw, pitch, roll, *eye, *eye]
            out.write(f"{timecode(frame.time_s, fps)},{len(HEADER) - 2}," + ",".join(f"{v:.6f}" for v in values) + "\n")
            rows += 1
    return rows


def read_arkit_csv(path: str | Path, fps: float) -> Iterator[ArkitFrame]:
    """The frames of a Live Link Face CSV (columns found by name; `fps`: the take's rate for the
    timecode's frames). Raises `InputError` for a file without that layout."""
    path = Path(path)
    with open(path, encoding="utf-8") as lines:
        header = lines.readline().strip().split(",")
        missing = [name for name in HEADER if name not in header]
        if missing:
            raise InputError(path, f"not a Live Link Face CSV (no column {missing[0]})")
        where = [header.index(name) for name in HEADER]
        for line in lines:
            cells = line.strip().split(",")
            cells = [cells[i] for i in where]
            hours, minutes, seconds, frames = cells[0].split(":")
            time_s = int(hours) * 3600 + int(minutes) * 60 + int(seconds) + float(frames) / fps
            values = np.asarray(cells[2:], np.float64)
            coefficients = np.empty(len(ARKIT_NAMES))
            coefficients[_FROM_APPLE] = values[:len(ARKIT_NAMES)]
            yaw, pitch, roll = values[len(ARKIT_NAMES):len(ARKIT_NAMES) + 3]
            head = Rotation.from_euler("YXZ", [yaw, pitch, roll]).as_rotvec()
            gaze = values[len(ARKIT_NAMES) + 3:len(ARKIT_NAMES) + 5]
            yield ArkitFrame(time_s, coefficients, head, gaze)
