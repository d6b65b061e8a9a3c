"""The command line: the demo job end to end, and errors as one line with a failing exit status."""

import numpy as np
from PIL import Image

from emoca.cli import main


def test_demo_writes_pngs_and_an_animatable_glb(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--size", "96"]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"neutral.png", "smile.png", "jaw_open.png", "face.glb", "face.obj"} <= names
    neutral = np.asarray(Image.open(tmp_path / "neutral.png"))
    smile = np.asarray(Image.open(tmp_path / "smile.png"))
    assert neutral.shape == (96, 192, 3)
    assert (neutral > 0).mean() > 0.2  # the face fills the frame
    assert np.abs(neutral.astype(int) - smile).max() > 30  # the expression changes the picture


def test_missing_model_is_a_one_line_error_and_exit_1(tmp_path, run_emoca):
    result = run_emoca("demo", "--out", tmp_path, "--ict", tmp_path / "missing.npz")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.npz" in lines[0] and "not found" in lines[0]
    assert not list(tmp_path.glob("*.png"))
