"""`emoca landmarks`: faces, 478 dense and 68 points per image; overlay PNGs and JSON lines."""

from pathlib import Path

import cv2
import numpy as np

from emoca.commands.batch import BatchReport, iterate_images, unique_name
from emoca.detect.pipeline import FaceLandmarker, FaceLandmarks, LandmarkerConfig
from emoca.errors import InputError
from emoca.io.atomic import ensure_writable_folder
from emoca.io.image_output import save_image
from emoca.io.images import load_image


def draw_landmarks(image: np.ndarray, faces: list[FaceLandmarks]) -> np.ndarray:
    """Overlay: detector box (green), 478 dense points (cyan), 68 points (red), on a copy of `image`."""
    canvas = image.copy()
    radius = max(1, round(max(image.shape[:2]) / 400))
    for face in faces:
        x0, y0, x1, y1 = (int(round(v)) for v in face.box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), (0, 200, 0), radius)
        for x, y in face.dense[:, :2]:
            cv2.circle(canvas, (int(round(x)), int(round(y))), max(1, radius // 2), (0, 220, 255), -1)
        for x, y in face.landmarks_68:
            cv2.circle(canvas, (int(round(x)), int(round(y))), radius + 1, (255, 40, 40), -1)
    return canvas


def face_record(image: Path, index: int, face: FaceLandmarks) -> dict:
    """The JSON line of one face (input-image pixels, 0 at the centre of the top-left pixel)."""
    return {"image": str(image), "face_index": index, "detector": face.detector,
            "bbox": [round(float(v), 2) for v in face.box], "score": round(face.score, 4),
            "dense_source": face.dense_source,
            "landmarks_68": np.round(face.landmarks_68.astype(np.float64), 2).tolist(),
            "landmarks_478": np.round(face.dense.astype(np.float64), 2).tolist()}


def run_landmarks(inputs: list[str], out: Path, as_json: bool, method_68: str | None = None) -> int:
    """Process every input; returns the exit status (1 if any input failed or had no face)."""
    ensure_writable_folder(out)
    report = BatchReport(as_json)
    landmarker = FaceLandmarker(LandmarkerConfig(method_68=method_68))
    used: set[str] = set()
    for item in iterate_images(inputs, report):
        path = item.path
        try:
            image = load_image(path)
            faces = landmarker(image)
            save_image(out / f"{unique_name(item.name, used)}.png", draw_landmarks(image, faces))
            if not faces:
                raise InputError(path, "no face found")
        except InputError as error:
            report.error(error)
            continue
        except OSError as error:
            report.error(InputError(path, f"cannot write its overlay in {out} ({error.strerror or error})"))
            continue
        except Exception as error:  # noqa: BLE001 - a bug must not end the batch nor show a traceback
            report.unexpected(path, error)
            continue
        report.succeeded()
        if as_json:
            for index, face in enumerate(faces):
                report.emit(face_record(path, index, face))
    return report.finish()
