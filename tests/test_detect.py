"""Detection, dense and 68-point landmarks, crops, and the `emoca landmarks` command."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.datasets.helen import nme, read_pts
from emoca.detect.affine import apply_affine
from emoca.detect.crops import CropConfig, crop_faces
from emoca.detect.landmarks68 import MIRROR_68
from emoca.detect.pipeline import FaceLandmarker
from emoca.detect.torchvision_standin import batched_nms, nms
from emoca.io.images import load_image

LONDON = HELEN.parent / "london" / "neutral" / "001.jpg"
TRAIN_PHOTO = sorted((HELEN / "trainset").glob("*.jpg"))[0]


@pytest.fixture(scope="module")
def landmarker() -> FaceLandmarker:
    return FaceLandmarker()


def test_one_face_with_478_and_68_points_inside_its_box(landmarker):
    image = load_image(LONDON)
    faces = landmarker(image)
    assert len(faces) == 1
    face = faces[0]
    assert face.detector == "mediapipe" and face.score > 0.5 and face.dense_source == "direct"
    assert face.dense.shape == (478, 3) and face.landmarks_68.shape == (68, 2)
    x0, y0, x1, y1 = face.box
    margin = 0.25 * (x1 - x0)
    inside = ((face.landmarks_68[:, 0] > x0 - margin) & (face.landmarks_68[:, 0] < x1 + margin)
              & (face.landmarks_68[:, 1] > y0 - margin) & (face.landmarks_68[:, 1] < y1 + margin))
    assert inside.all()
    # iBUG order: point 36 (subject's right outer eye corner) is on the image left of 45; the chin (8) is
    # below the nose tip (30).
    assert face.landmarks_68[36, 0] < face.landmarks_68[45, 0]
    assert face.landmarks_68[8, 1] > face.landmarks_68[30, 1]


def test_68_points_on_an_annotated_photo(landmarker):
    image = load_image(TRAIN_PHOTO)
    truth = read_pts(TRAIN_PHOTO.with_suffix(".pts"))
    errors = [nme(face.landmarks_68, truth) for face in landmarker(image)]
    assert min(errors) < 0.05


def test_direct_landmark_models_agree_with_the_face_mesh_graph(landmarker):
    image = load_image(LONDON)
    box = landmarker.detector(image)[0]
    graph = landmarker.mesher._run_graph(image, box)
    direct = landmarker.mesher._run_direct(image, box)
    assert graph.source == "graph" and direct.source == "direct" and direct.points.shape == (478, 3)
    eye_distance = np.linalg.norm(graph.points[33, :2] - graph.points[263, :2])
    error = np.linalg.norm(graph.points[:, :2] - direct.points[:, :2], axis=1) / eye_distance
    assert error[:468].mean() < 0.04
    assert error[[468, 473]].max() < 0.04  # iris centres, in the same order as the graph's


def test_mtcnn_fallback_when_mediapipe_finds_nothing(landmarker, monkeypatch):
    image = load_image(LONDON)
    monkeypatch.setattr(landmarker.detector, "_primary", lambda _: [])
    faces = landmarker(image)
    assert len(faces) == 1 and faces[0].detector == "mtcnn"
    assert faces[0].landmarks_68.shape == (68, 2)


def test_no_face_gives_no_result(landmarker):
    y, x = np.mgrid[:240, :320]
    assert landmarker(np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)) == []


def test_nms_standin_against_brute_force():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    assert nms(boxes, scores, 0.5).tolist() == [3, 2]
    assert sorted(batched_nms(boxes, scores, torch.tensor([0, 1, 0, 0]), 0.5).tolist()) == [1, 2, 3]


def test_mirror_permutation_is_an_involution():
    assert sorted(MIRROR_68.tolist()) == list(range(68))
    np.testing.assert_array_equal(MIRROR_68[MIRROR_68], np.arange(68))


def test_crops_map_back_to_input_pixels_exactly():
    image = np.zeros((300, 400, 3), np.uint8)
    image[120, 210] = 255  # one bright pixel
    landmarks = np.stack(np.meshgrid(np.linspace(150, 250, 17), np.linspace(80, 180, 4)), -1).reshape(-1, 2)[:68]
    crops = crop_faces(image, landmarks[None], CropConfig(scale=1.25, size=64))
    assert crops.images.shape == (1, 64, 64, 3) and crops.to_input.shape == (1, 2, 3)
    row, col = np.unravel_index(crops.images[0, ..., 0].argmax(), (64, 64))
    back = apply_affine(crops.to_input[0], np.array([[col, row]], float))[0]
    assert np.abs(back - [210, 120]).max() <= crops.to_input[0, 0, 0]  # within one crop pixel
    centre = apply_affine(crops.to_input[0], np.array([[31.5, 31.5]]))[0]
    np.testing.assert_allclose(centre, (landmarks.min(0) + landmarks.max(0)) / 2)


def test_cli_reports_bad_inputs_and_goes_on(tmp_path, run_emoca):
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.open(LONDON).save(inputs / "face.jpg")
    (inputs / "empty.jpg").write_bytes(b"")
    (inputs / "readme.txt").write_text("not an image")
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(inputs / "blank.png")
    result = run_emoca("landmarks", inputs, tmp_path / "missing.jpg", "--json", "--out", tmp_path / "out")
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    faces = [r for r in records if "landmarks_68" in r]
    errors = {Path(r["image"]).name: r["error"] for r in records if "error" in r}
    assert len(faces) == 1 and Path(faces[0]["image"]).name == "face.jpg"
    assert len(faces[0]["landmarks_68"]) == 68 and len(faces[0]["landmarks_478"]) == 478
    assert {"face_index", "detector", "bbox", "score"} <= set(faces[0])
    assert set(errors) == {"empty.jpg", "readme.txt", "blank.png", "missing.jpg"}
    assert "no face" in errors["blank.png"]
    report = [line for line in result.stderr.splitlines() if line.startswith("emoca: error")]
    assert len(report) == 4
    assert (tmp_path / "out" / "face.png").exists()


def test_cli_exit_0_when_all_inputs_succeed(tmp_path, run_emoca):
    result = run_emoca("landmarks", LONDON, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert np.asarray(Image.open(tmp_path / "001.png")).shape == np.asarray(Image.open(LONDON)).shape


def test_tracking_follows_a_moving_face_without_the_detector(landmarker, monkeypatch):
    image = load_image(LONDON)
    first = landmarker(image)
    shifted = np.roll(image, (12, -9), axis=(0, 1))  # the face moves 9 px left and 12 px down
    monkeypatch.setattr(landmarker.detector, "_primary", lambda _: pytest.fail("detector called"))
    tracked = landmarker.track(shifted, first)
    assert len(tracked) == 1 and tracked[0].detector == "tracking"
    moved = tracked[0].landmarks_68 - first[0].landmarks_68
    np.testing.assert_allclose(np.median(moved, 0), [-9, 12], atol=1.5)
