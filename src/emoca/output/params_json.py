"""`params.json`: the per-photo result contract of `emoca reconstruct` (DESIGN.md section 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emoca.facemodel.face_regions import REGIONS
from emoca.io.atomic import write_text_atomic

if TYPE_CHECKING:
    from emoca.decode.decoder import FaceDecoder
    from emoca.pipeline.photo import Face

SCHEMA_VERSION = 7  # 2: `jaw` for models with a jaw joint (FLAME); albedo coefficients named by basis.
#                    3: `mesh_identity` (ICT's expression correctives, `emoca.decode.expression_correctives`)
#                    4: top-level `provenance` (method, configuration, learned files with short hashes);
#                       `timings_ms`: `fit_per_face` renamed `predict_per_face` (any predictor, not only the
#                       fit), `decode_per_face` and `write_outputs` added, `total` is read + detect + predict
#                       + decode (before: also writing the images, now `write_outputs`)
# Still 4: `emotion` (null before) is {expression, probabilities, valence, arousal, va_supervised, source}
# where the method has an emotion-from-geometry head.
#                    5: `eyes` ({gaze, convention}, or null without iris points); ICT's eyeLook weights come
#                       from that gaze (before: from the predictor)
#                    6: `albedo.regions` has "brows" (`emoca.facemodel.face_regions.brow_mask`); `refinement`
#                       ({kept, rule}) for `--method emoca`, null otherwise (and, since 2026-12-04, for a
#                       video's later frames, which `emoca` does not check: docs/emoca_method.md, video)
#                    7: `texture` ({file, seen, mostly_hidden}: the UV texture taken from the photo,
#                       `emoca.texture`), null where none was written; the albedo's smooth basis runs over the mirrored
#                       head (`symmetric_coefficients`, `emoca.decode.albedo`; before: `uv_coefficients`)


GAZE_CONVENTION = ("[yaw, pitch] radians of both eyes in the head frame; + yaw looks to the subject's left (+x), "
                   "+ pitch looks up")


def _rounded(values, digits: int = 5) -> list:
    return np.round(np.asarray(values, np.float64), digits).tolist()


def face_record(face_index: int, face: Face, decoder: FaceDecoder, crop_size: int,
                timings_ms: dict[str, float]) -> dict:
    """One face's entry of `faces` (input-image pixels, 0 at the top-left pixel's centre). `identity`: the
    person's identity weights; `mesh_identity`: the identity weights that rebuild `mesh.obj` with the
    model's own expression shapes (ICT: identity + the expression correctives' share; otherwise equal).
    `jaw` (models with a jaw joint): {"rotation": 3 floats, "convention": text}."""
    params, detection, to_input = face.params, face.detection, face.to_input
    fields = decoder.terms.expression_fields(decoder.vector(params)[0])
    basis = decoder.albedo.basis_name
    albedo = {"type": f"regions+{basis}_cosine",
              "regions": {name: params.colours[0, r].tolist() for r, name in enumerate(REGIONS)},
              f"{basis}_coefficients": params.coefficients[0].tolist()}
    mesh_identity = face.decoded.mesh_identity[0]
    identity, rotation, scale, offset = params.identity[0], params.rotation[0], params.scale[0], params.offset[0]
    bbox, score, detector, light = detection.box, detection.score, detection.detector, params.light[0]
    landmarks_68, expression, jaw = face.landmarks_68, fields["expression"], fields.get("jaw")
    record = {
        "face_index": face_index, "bbox": _rounded(bbox, 2), "score": round(float(score), 4), "detector": detector,
        "model": decoder.terms.name, "identity": _rounded(identity), "mesh_identity": _rounded(mesh_identity),
        "expression": {name: round(float(w), 5) for name, w in expression.items()},
        "pose": {"rotation": _rounded(rotation), "translation": [0.0, 0.0, 0.0],
                 "rotation_convention": "axis-angle, radians, about the model origin"},
        "camera": {"type": "weak_perspective", "scale": round(float(scale), 6), "offset": _rounded(offset),
                   "crop_size": crop_size, "crop_to_input": _rounded(to_input, 6),
                   "convention": "p_crop = s * (R v)[:2] + t in [-1, 1] crop units, y up; "
                                 "p_input = crop_to_input @ [p_crop_pixels, 1]"},
        "light": {"type": "spherical_harmonics_9", "coefficients": _rounded(light)},
        "albedo": albedo, "landmarks_68": _rounded(landmarks_68, 2),
        "emotion": None if face.emotion is None else face.emotion.to_json(),
        "eyes": None if face.gaze is None else {"gaze": _rounded(face.gaze), "convention": GAZE_CONVENTION},
        "timings_ms": {k: round(float(v), 1) for k, v in timings_ms.items()},
        "refinement": None if params.refined is None else {
            "kept": "refined" if bool(params.refined[0]) else "start",
            "rule": "the regressor's start is kept where the refinement raises our recogniser's emotion distance "
                    "or the landmark error"},
    }
    if jaw is not None:
        record["jaw"] = {"rotation": _rounded(jaw["rotation"]), "convention": jaw["convention"]}
    return record


def write_params(path: Path, image: Path, width: int, height: int, faces: list[dict], provenance: dict) -> None:
    """Write `params.json` atomically (never half-written). `provenance`: what produced it
    (`emoca.pipeline.photo.Reconstructor.provenance`)."""
    document = {"schema_version": SCHEMA_VERSION, "image": str(image), "width": width, "height": height,
                "provenance": provenance, "faces": faces}
    write_text_atomic(path, json.dumps(document, indent=1))
