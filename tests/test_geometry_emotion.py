"""Emotion from geometry: the head, its weights file, its training, and the per-frame smoothing."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emoca.emotions import EMOTIONS, FaceEmotion, median_emotion
from emoca.errors import InputError
from emoca.nets.emotion import face_emotions
from emoca.nets.geometry_emotion import (
    GeometryEmotionConfig,
    GeometryEmotionNet,
    load_geometry_emotion,
    save_geometry_emotion,
)
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.train.geometry_emotion import HeadTraining, train_head


def _separable(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic expressions: class c turns on weights 2c and 2c+1 (plus noise); one-hot labels."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, len(EMOTIONS), count)
    values = rng.uniform(0, 0.2, (count, 53)).astype(np.float32)
    values[np.arange(count), 2 * classes] += 0.7
    values[np.arange(count), 2 * classes + 1] += 0.5
    return values, np.eye(len(EMOTIONS), dtype=np.float32)[classes]


def test_head_outputs_probabilities_and_circumplex_va_and_refuses_wrong_shapes():
    net = GeometryEmotionNet().eval()
    out = net(torch.rand(4, 53))
    assert out.probabilities.shape == (4, 8)
    torch.testing.assert_close(out.probabilities.sum(1), torch.ones(4))
    assert not out.va_supervised
    torch.testing.assert_close(torch.stack([out.valence, out.arousal], 1), out.probabilities @ net.circumplex)
    with pytest.raises(ValueError, match="53"):
        net(torch.rand(4, 52))


def test_training_learns_a_separable_problem_and_the_weights_round_trip(tmp_path):
    net, figures = train_head(_separable(800, 0), _separable(200, 1), HeadTraining(epochs=15))
    assert figures["selection_accuracy"] > 0.95
    test, labels = _separable(200, 2)
    with torch.no_grad():
        predicted = net(torch.from_numpy(test)).probabilities
    assert float((predicted.argmax(1) == torch.from_numpy(labels.argmax(1))).float().mean()) > 0.95
    save_geometry_emotion(net, tmp_path / "head.safetensors", {"method": "test"})
    loaded = load_geometry_emotion(tmp_path / "head.safetensors")
    assert loaded.config == GeometryEmotionConfig()
    with torch.no_grad():
        torch.testing.assert_close(loaded(torch.from_numpy(test)).probabilities, predicted, atol=3e-3, rtol=0)
    with pytest.raises(InputError, match="python -m emoca.train.geometry_emotion"):
        load_geometry_emotion(tmp_path / "missing.safetensors")


def test_face_emotion_records_and_the_median_follows_a_step_without_lag_and_drops_a_spike():
    net = GeometryEmotionNet().eval()
    with torch.no_grad():
        records = face_emotions(net(torch.rand(2, 53)), "geometry")
    record = records[0].to_json()
    assert record["source"] == "geometry" and record["va_supervised"] is False
    assert list(record["probabilities"]) == list(EMOTIONS) and record["expression"] in EMOTIONS

    def frame(label: int) -> FaceEmotion:
        probabilities = np.full(8, 0.02)
        probabilities[label] = 0.86
        return FaceEmotion(probabilities, 0.8 if label == 1 else 0.0, 0.0, False, "geometry")

    labels = [0, 0, 0, 1, 1, 1, 0, 3, 0, 0]  # a step to happy at frame 3, back at 6, a one-frame spike at 7
    frames = [frame(label) for label in labels]
    smoothed = [median_emotion(frames[max(0, i - 1):i + 2]) for i in range(len(frames))]
    assert [e.expression for e in smoothed] == ["neutral"] * 3 + ["happy"] * 3 + ["neutral"] * 4
    assert smoothed[3].valence == pytest.approx(0.8)


def test_emotion_from_geometry_on_the_command_line(tmp_path, run_emoca):
    photo = Path(__file__).resolve().parents[2] / "shared" / "data" / "london" / "smiling" / "001.jpg"
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a photo")
    result = run_emoca("emotion", "--from", "geometry", "--json", photo, tmp_path / "broken.jpg")
    assert result.returncode == 1 and "Traceback" not in result.stderr  # the broken file, reported
    records = [json.loads(line) for line in result.stdout.splitlines()]
    good = [r for r in records if "expression" in r]
    assert len(good) == 1 and sum("error" in r for r in records) == 1
    assert good[0]["source"] == "geometry" and good[0]["expression"] == "happy"
    assert good[0]["va_supervised"] is False and good[0]["valence"] > 0
    usage = run_emoca("emotion", "--from", "geometry", "--no-detect", photo)
    assert usage.returncode == 1 and "--no-detect" in usage.stderr and "Traceback" not in usage.stderr


def test_regressed_faces_carry_their_emotion_and_it_can_be_switched_off():
    photo = Path(__file__).resolve().parents[2] / "shared" / "data" / "london" / "smiling" / "001.jpg"
    face = Reconstructor(ReconstructorConfig(method="regress")).reconstruct(photo)[0]
    assert face.emotion is not None and face.emotion.source == "geometry" and face.emotion.expression == "happy"
    assert Reconstructor(ReconstructorConfig(method="regress", emotion=False)).reconstruct(photo)[0].emotion is None
