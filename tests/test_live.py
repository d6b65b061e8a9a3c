"""The live tracker (`emoca.pipeline.live`): what each frame answers, the identity it holds, a lost face."""

import numpy as np
import pytest
import torch

from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.io.video import VideoReader
from emoca.pipeline.live import LiveConfig, LiveTracker
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.predictors.smoothing import OneEuroFilter

VIDEO = HELEN.parent / "video" / "WolfgangLanger_Pexels.mp4"


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    out = []
    for frame in VideoReader(VIDEO):
        out.append(frame)
        if len(out) == 8:
            return out
    return out


@pytest.fixture(scope="module")
def reconstructor() -> Reconstructor:
    return Reconstructor(ReconstructorConfig(method="regress"))


def test_each_frame_answers_weights_rotation_gaze_and_emotion_and_the_identity_settles(frames, reconstructor):
    tracker = LiveTracker(reconstructor, LiveConfig(identity_frames=3))
    answers = [tracker(frame, 0.04 * i + (0.01 if i % 2 else 0.0)) for i, frame in enumerate(frames[:4])]
    assert all(answer.found for answer in answers)
    first = answers[0]
    assert first.expression.shape == (53,) and first.rotation.shape == (3,) and first.gaze.shape == (2,)
    assert first.emotion.source == "geometry" and set(first.timings_ms) == {"landmarks", "predict", "gaze_emotion",
                                                                             "total"}
    assert np.isfinite(np.stack([a.expression for a in answers])).all()
    identity = tracker.identity
    assert identity is not None and identity.shape == (reconstructor.model.n_identity,)
    tracker(frames[4], 0.2)
    torch.testing.assert_close(tracker.identity, identity)  # held once settled


def test_a_frame_without_a_face_answers_not_found_and_forgets_the_person(frames, reconstructor):
    tracker = LiveTracker(reconstructor, LiveConfig(identity_frames=1))
    assert tracker(frames[0], 0.0).found and tracker.identity is not None
    lost = tracker(np.full((360, 640, 3), 128, np.uint8), 0.04)
    assert not lost.found and lost.expression is None and tracker.identity is None
    assert tracker(frames[1], 0.08).found  # detected afresh


def test_the_one_euro_filter_at_an_uneven_rate_equals_its_fixed_rate_when_the_steps_match():
    fixed, uneven = OneEuroFilter(25.0), OneEuroFilter(5.0)
    samples = np.cumsum(np.random.default_rng(0).normal(size=(10, 3)), 0)
    for sample in samples:
        np.testing.assert_allclose(uneven(sample, dt=0.04), fixed(sample))
