"""`emoca reconstruct` on photos: the output contract, skipping finished work, bad inputs."""

import json

import numpy as np
from PIL import Image

from emoca.datasets.helen import DEFAULT_ROOT as HELEN

PHOTO = HELEN.parent / "london" / "smiling" / "001.jpg"


def test_outputs_follow_the_contract_and_finished_photos_are_skipped(tmp_path, run_emoca):
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.open(PHOTO).save(inputs / "smile.jpg")
    (inputs / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    result = run_emoca("reconstruct", inputs, "--out", tmp_path / "out", "--json")
    assert result.returncode == 1  # the broken file
    folder = tmp_path / "out" / "smile"
    assert {p.name for p in folder.iterdir()} == {"params.json", "mesh.obj", "render.png", "overlay.png"}
    params = json.loads((folder / "params.json").read_text())
    face = params["faces"][0]
    assert params["schema_version"] == 1 and face["model"] == "ict" and face["emotion"] is None
    assert len(face["identity"]) == 100 and len(face["expression"]) == 53
    assert all(0 <= w <= 1 for w in face["expression"].values())
    assert face["expression"]["mouthSmile_L"] + face["expression"]["mouthSmile_R"] > 0.2
    assert np.asarray(face["light"]["coefficients"]).shape == (9, 3) and len(face["landmarks_68"]) == 68
    photo = np.asarray(Image.open(PHOTO))
    assert np.asarray(Image.open(folder / "overlay.png")).shape == (photo.shape[0], 4 * photo.shape[1], 3)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert any(line.get("faces") == 1 for line in lines) and any("error" in line for line in lines)
    before = (folder / "params.json").stat().st_mtime_ns
    again = run_emoca("reconstruct", inputs / "smile.jpg", "--out", tmp_path / "out")
    assert again.returncode == 0 and "skipped" in again.stdout
    assert (folder / "params.json").stat().st_mtime_ns == before


def test_unwritable_output_fails_before_any_work(tmp_path, run_emoca):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should go")
    result = run_emoca("reconstruct", PHOTO, "--out", blocker / "out")
    assert result.returncode == 1 and "not writable" in result.stderr
