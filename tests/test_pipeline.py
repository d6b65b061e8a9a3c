"""The library pipeline: `emoca.reconstruct`, batches, and the video pipeline on a short synthetic clip."""

import numpy as np
import pytest
import torch

import emoca
from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.datasets.helen import nme
from emoca.detect.affine import apply_affine
from emoca.io.images import load_image
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.pipeline.video import VideoConfig, VideoReconstructor
from emoca.predictors.fitter import FitConfig, LossWeights
from emoca.predictors.smoothing import OneEuroConfig, OneEuroFilter
from emoca.targets import FaceTargets

PHOTO = HELEN.parent / "london" / "smiling" / "001.jpg"


@pytest.fixture(scope="module")
def quick() -> Reconstructor:
    """A reconstructor with a short fit schedule (the pipeline, not the fit, is under test)."""
    return Reconstructor(ReconstructorConfig(fit=FitConfig(pose_steps=10, shape_steps=20, appearance_steps=2)))


def test_reconstruct_returns_faces_on_the_photo():
    faces = emoca.reconstruct(PHOTO)
    assert len(faces) == 1
    face = faces[0]
    assert face.params.expression.shape == (1, 53) and face.params.identity.shape == (1, 100)
    assert face.decoded.vertices.shape[0] == 1 and face.landmarks_68.shape == (68, 2)
    # the record carries what writing needs: the gaze in its params, the unposed mesh and mesh identity
    assert face.params.gaze.shape == (1, 2) and np.array_equal(face.gaze, face.params.gaze[0].numpy())
    assert face.decoded.unposed.shape == face.decoded.vertices.shape and face.decoded.mesh_identity.shape == (1, 100)
    assert nme(face.landmarks_68, face.detection.landmarks_68) < 0.08  # the model lies on the detected face
    smile = face.params.expression[0, [emoca.load_model().expression_index(n) for n in ("mouthSmile_L",
                                                                                          "mouthSmile_R")]]
    assert float(smile.sum()) > 0.2


def test_targets_carry_the_map_from_their_crop_back_to_the_photo(quick):
    photo = load_image(PHOTO)
    detections = quick.landmarker(photo)
    targets = quick.targets(photo, detections[:1])
    back = apply_affine(targets.to_input[0], targets.landmarks_68[0].numpy())
    np.testing.assert_allclose(back, detections[0].landmarks_68, atol=1e-3)  # input pixels
    joined = FaceTargets.concat([targets, targets])
    assert joined.to_input.shape == (2, 2, 3) and joined[1:].to_input.shape == (1, 2, 3)
    assert joined.to("cpu").to_input is joined.to_input
    cached = FaceTargets(targets.images, targets.landmarks_68, targets.dense)  # crops not cut here: no map
    assert FaceTargets.concat([targets, cached]).to_input is None


def test_a_batch_keeps_photos_apart_and_a_faceless_photo_gets_no_faces(quick):
    photo = load_image(PHOTO)
    blank = np.full((200, 200, 3), 128, np.uint8)
    batch = quick.reconstruct_batch([photo, blank, PHOTO])
    assert [len(faces) for faces in batch] == [1, 0, 1]
    # same photo, same fit: up to float32 rounding, which BLAS may do differently for two rows of a batch
    # (1.2e-5 of a standard deviation after the fit's steps, seen on an AMD EPYC)
    torch.testing.assert_close(batch[0][0].params.identity, batch[2][0].params.identity, atol=1e-4, rtol=1e-4)


def test_video_frames_share_one_identity_and_faceless_frames_are_empty(quick):
    photo = load_image(PHOTO)
    blank = np.zeros_like(photo)
    frames = [photo, photo, blank, photo, photo]
    results = list(VideoReconstructor(quick, VideoConfig(identity_frames=2)).frames(iter(frames), 25.0))
    assert [r.index for r in results] == list(range(5))
    assert results[2].face is None and all(results[i].face is not None for i in (0, 1, 3, 4))
    identities = [results[i].face.params.identity for i in (0, 1, 3, 4)]
    assert all(torch.equal(identity, identities[0]) for identity in identities)
    assert nme(results[4].face.landmarks_68, results[4].face.detection.landmarks_68) < 0.08


def test_an_emotion_weight_adds_the_emotion_term_to_the_fit(quick):
    config = ReconstructorConfig(fit=FitConfig(pose_steps=10, shape_steps=20, appearance_steps=2,
                                               weights=LossWeights(emotion=1.0)))
    with_emotion = Reconstructor(config)
    assert with_emotion.provenance()["files"].keys() >= {"emotion_fer.safetensors"}
    photo = load_image(PHOTO)
    plain, emotional = quick.reconstruct(photo)[0].params, with_emotion.reconstruct(photo)[0].params
    assert not torch.equal(plain.expression, emotional.expression)  # the term moved the fit
    assert (plain.expression - emotional.expression).abs().max() < 0.3  # two appearance steps: a nudge


def test_video_output_expressions_are_filtered_and_the_next_frames_start_unfiltered(quick):
    # the filter acts on the output alone: the filtered run's expressions are the unfiltered run's, filtered
    # (but ICT's eyeLook weights, which the output sets from the iris points afterwards)
    neutral, smiling = load_image(HELEN.parent / "london" / "neutral" / "001.jpg"), load_image(PHOTO)
    frames = [neutral, neutral, smiling, smiling, neutral, np.zeros_like(neutral), smiling]
    smoothing = OneEuroConfig(1.0, 1.0)
    kept = [i for i, name in enumerate(quick.model.expression_names) if not name.startswith("eyeLook")]

    def expressions(config: VideoConfig) -> list[torch.Tensor | None]:
        results = VideoReconstructor(quick, config).frames(iter(frames), 25.0)
        return [None if r.face is None else r.face.params.expression[:, kept] for r in results]

    assert quick.config.method == "emoca"  # the default method, whose video filters its expressions by default
    plain = expressions(VideoConfig(identity_frames=2, emoca_expression_smoothing=None))
    filtered = expressions(VideoConfig(identity_frames=2, emoca_expression_smoothing=smoothing))
    expected = OneEuroFilter(25.0, smoothing)
    for index, (raw, out) in enumerate(zip(plain, filtered, strict=True)):
        if raw is None:
            assert out is None and index == 5
            expected.reset()
            continue
        torch.testing.assert_close(out, torch.as_tensor(expected(raw.numpy()), dtype=raw.dtype), atol=1e-5, rtol=0)
    assert not torch.allclose(plain[2], filtered[2], atol=1e-3)  # the smile arrives smoothed
