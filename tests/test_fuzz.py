"""Mutation fuzzing of what reads user files: image decoding, params.json reading, captures (params.jsonl).

Seeded byte mutations (flips, overwrites with boundary bytes, cuts, duplicated and deleted runs) of a
small JPEG, PNG, TIFF and params.json. The only failure allowed is our one-line `InputError`. 1,000
inputs in the default run (a few seconds); `-m slow` runs 20,000.
"""

import io
import json

import numpy as np
import pytest
from PIL import Image

from emoca.batch.reconstruct_jobs import finished
from emoca.errors import InputError
from emoca.io.images import load_image


def _seeds() -> dict[str, bytes]:
    y, x = np.mgrid[:48, :64]
    picture = Image.fromarray(np.stack([x * 4, y * 5, (x + y) * 2], -1).astype(np.uint8))
    seeds = {}
    for suffix, kind in ((".jpg", "JPEG"), (".png", "PNG"), (".tiff", "TIFF")):
        buffer = io.BytesIO()
        picture.save(buffer, kind)
        seeds[suffix] = buffer.getvalue()
    seeds[".json"] = json.dumps({"schema_version": 4, "image": "photo.jpg", "faces": [{"face_index": 0}]}).encode()
    return seeds


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One to four random edits of `data`."""
    data = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        kind, where = int(rng.integers(0, 5)), int(rng.integers(0, max(1, len(data))))
        if kind == 0 and data:  # flip bits
            data[where] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1 and data:  # boundary values
            data[where] = int(rng.choice([0, 1, 0x7F, 0x80, 0xFF]))
        elif kind == 2:  # cut the tail
            del data[where:]
        elif kind == 3:  # duplicate a run
            data[where:where] = data[where:where + int(rng.integers(1, 64))]
        else:  # delete a run
            del data[where:where + int(rng.integers(1, 64))]
    return bytes(data)


def _fuzz(count: int, tmp_path) -> dict[str, int]:
    rng = np.random.default_rng(2026)
    seeds, outcomes = _seeds(), {"decoded": 0, "refused": 0}
    for i in range(count):
        suffix = list(seeds)[i % len(seeds)]
        path = tmp_path / f"case{suffix}"
        path.write_bytes(mutate(seeds[suffix], rng))
        if suffix == ".json":
            assert finished(path, tmp_path / "photo.jpg") in (True, False, None)
            continue
        try:
            image = load_image(path)
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
            outcomes["decoded"] += 1
        except InputError as error:
            assert "\n" not in str(error) and path.name in str(error)
            outcomes["refused"] += 1
    return outcomes


def test_a_thousand_mutated_files_decode_or_fail_in_one_line(tmp_path):
    outcomes = _fuzz(1000, tmp_path)
    assert outcomes["decoded"] > 0 and outcomes["refused"] > 0  # the mutations reach both outcomes


@pytest.mark.slow
def test_twenty_thousand_mutated_files(tmp_path):
    _fuzz(20000, tmp_path)


def test_mutated_captures_parse_or_fail_in_one_line(tmp_path, ict_model):
    """500 mutations of a two-frame params.jsonl through the capture reader and the model check that
    export and animate run first: a parsed face fits ICT with finite numbers, or one `InputError`."""
    from emoca.decode.decoder import FaceDecoder
    from emoca.facemodel.face_regions import REGIONS
    from emoca.output.capture import Capture

    decoder = FaceDecoder(ict_model)
    face = {"model": "ict", "identity": [0.1] * ict_model.n_identity, "pose": {"rotation": [0.1, 0.2, 0.0]},
            "expression": dict.fromkeys(ict_model.expression_names, 0.25), "eyes": {"gaze": [0.1, -0.1]},
            "light": {"coefficients": [[1.0] * 3] * 9},
            "albedo": {"regions": {name: [0.5, 0.4, 0.3] for name in REGIONS}, "uv_coefficients": [[0.0] * 3] * 8}}
    lines = [json.dumps({"frame": i, "time_s": i / 25, "faces": [face] if i else []}) for i in range(2)]
    seed = ("\n".join(lines) + "\n").encode()
    rng = np.random.default_rng(7)
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(500):
        path = tmp_path / "params.jsonl"
        path.write_bytes(mutate(seed, rng))
        try:
            captured = Capture(path).first_face()
            captured.check_fits(decoder)
            assert bool(captured.params().expression.isfinite().all())
            outcomes["parsed"] += 1
        except InputError as error:
            assert "\n" not in str(error)
            outcomes["refused"] += 1
    assert outcomes["parsed"] > 0 and outcomes["refused"] > 0
