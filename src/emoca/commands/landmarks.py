"""`emoca landmarks`: faces, 478 dense and 68 points per image; overlay PNGs and JSON lines."""

from pathlib import Path

import numpy as np

from emoca.batch.report import BatchReport, iterate_images, unique_name
from emoca.detect.pipeline import FaceLandmarker, FaceLandmarks, LandmarkerConfig
from emoca.errors import InputError
from emoca.io.atomic import ensure_writable_folder
from emoca.io.image_output import save_image
from emoca.io.images import load_image
from emoca.output.drawing import draw_landmarks


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
