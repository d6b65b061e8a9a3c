"""`params.json`: the per-photo result contract of `emoca reconstruct` (DESIGN.md section 4)."""

import json
from pathlib import Path

import numpy as np

from emoca.io.atomic import write_text_atomic

SCHEMA_VERSION = 3  # 2: `jaw` for models with a jaw joint (FLAME); albedo coefficients named by basis.
#                    3: `mesh_identity` (ICT's expression correctives, `emoca.fit.expression_correctives`)


def _rounded(values, digits: int = 5) -> list:
    return np.round(np.asarray(values, np.float64), digits).tolist()


def face_record(face_index: int, bbox: np.ndarray, score: float, detector: str, model: str,
                identity: np.ndarray, mesh_identity: np.ndarray, rotation: np.ndarray, scale: float,
                offset: np.ndarray, crop_size: int, to_input: np.ndarray, light: np.ndarray, albedo: dict,
                landmarks_68: np.ndarray, timings_ms: dict[str, float], expression: dict[str, float],
                jaw: dict | None = None) -> dict:
    """One face's entry of `faces` (input-image pixels, 0 at the top-left pixel's centre). `identity`: the
    person's identity weights; `mesh_identity`: the identity weights that rebuild `mesh.obj` with the
    model's own expression shapes (ICT: identity + the expression correctives' share; otherwise equal).
    `jaw` (models with a jaw joint): {"rotation": 3 floats, "convention": text}."""
    record = {
        "face_index": face_index, "bbox": _rounded(bbox, 2), "score": round(float(score), 4), "detector": detector,
        "model": model, "identity": _rounded(identity), "mesh_identity": _rounded(mesh_identity),
        "expression": {name: round(float(w), 5) for name, w in expression.items()},
        "pose": {"rotation": _rounded(rotation), "translation": [0.0, 0.0, 0.0],
                 "rotation_convention": "axis-angle, radians, about the model origin"},
        "camera": {"type": "weak_perspective", "scale": round(float(scale), 6), "offset": _rounded(offset),
                   "crop_size": crop_size, "crop_to_input": _rounded(to_input, 6),
                   "convention": "p_crop = s * (R v)[:2] + t in [-1, 1] crop units, y up; "
                                 "p_input = crop_to_input @ [p_crop_pixels, 1]"},
        "light": {"type": "spherical_harmonics_9", "coefficients": _rounded(light)},
        "albedo": albedo, "landmarks_68": _rounded(landmarks_68, 2), "emotion": None,
        "timings_ms": {k: round(float(v), 1) for k, v in timings_ms.items()},
    }
    if jaw is not None:
        record["jaw"] = {"rotation": _rounded(jaw["rotation"]), "convention": jaw["convention"]}
    return record


def write_params(path: Path, image: Path, width: int, height: int, faces: list[dict]) -> None:
    """Write `params.json` atomically (never half-written)."""
    document = {"schema_version": SCHEMA_VERSION, "image": str(image), "width": width, "height": height,
                "faces": faces}
    write_text_atomic(path, json.dumps(document, indent=1))
