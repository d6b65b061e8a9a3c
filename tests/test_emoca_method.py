"""`--method emoca` and the renders it reads: the brow region, the brows' colour measured on the photo, the
fitter's emotion stage (the expression alone moves) and the refinement that keeps a start it would worsen."""

import json
from dataclasses import replace

import pytest
import torch

from emoca.decode.decoder import FaceDecoder
from emoca.face_params import FaceParams
from emoca.facemodel.face_regions import REGIONS, appearance_regions, brow_mask
from emoca.nets.emotion import load_emotion_net
from emoca.predictors.brow_colour import SKIN_POINTS, _centre_lines, with_brow_colour
from emoca.predictors.emoca import EmotionRefinement
from emoca.predictors.emotion_term import EmotionConsistency
from emoca.predictors.fitter import FitConfig, PhotoFitter
from emoca.targets import FaceTargets


@pytest.fixture(scope="module")
def emotion() -> EmotionConsistency:
    return EmotionConsistency(load_emotion_net())


def _targets(decoder: FaceDecoder, params: FaceParams, seed: int = 0) -> FaceTargets:
    decoded = decoder.decode(params, mesh=False)
    images = torch.rand(len(params), 3, 224, 224, generator=torch.Generator().manual_seed(seed))
    return FaceTargets(images, decoded.landmarks_68, decoded.dense)


def test_the_brows_lie_on_the_face_above_the_eyes_on_both_sides(ict_model):
    brows = brow_mask(ict_model)
    points = ict_model.template[brows]
    eyes = ict_model.surface_landmarks(ict_model.template[None], "ibug")[0, 36:48]
    assert 40 <= int(brows.sum()) <= 2000
    assert bool((points[:, 1] > eyes[:, 1].max()).all())  # above every eye landmark (+y up)
    assert int((points[:, 0] > 0).sum()) > 0.3 * len(points) and int((points[:, 0] < 0).sum()) > 0.3 * len(points)
    regions = appearance_regions(ict_model)
    assert regions.shape == (ict_model.n_vertices, len(REGIONS))
    assert bool((regions.sum(1) == 1).all())  # every vertex in exactly one region


def test_the_brow_colour_is_the_photo_ratio_times_the_skin(ict_model):
    decoder = FaceDecoder(ict_model)
    params = decoder.neutral(1).replace(scale=torch.tensor([0.075]))
    targets = _targets(decoder, params)
    images = torch.full_like(targets.images, 0.8)
    upper, lower = _centre_lines()
    centre = ((targets.dense[0, upper] + targets.dense[0, lower]) / 2).round().long()
    for x, y in centre.tolist():  # brow pixels at a quarter of the skin's brightness
        images[0, :, y - 1:y + 2, x - 1:x + 2] = 0.2
    skin = targets.dense[0, list(SKIN_POINTS)].round().long()
    assert all(images[0, 0, y, x] == 0.8 for x, y in skin.tolist())
    four = params.replace(colours=params.colours[:, :4])
    result = with_brow_colour(four, replace(targets, images=images))
    assert result.colours.shape == (1, len(REGIONS), 3)
    assert torch.equal(result.colours[:, :4], four.colours)
    assert torch.allclose(result.colours[0, 4], four.colours[0, 0] * 0.25, atol=0.02)
    assert with_brow_colour(result, targets) is result  # a full set of colours is kept


def test_the_emotion_stage_moves_the_expression_alone(ict_model, emotion):
    decoder = FaceDecoder(ict_model)
    start = decoder.neutral(1).replace(scale=torch.tensor([0.075]),
                                       expression=torch.full((1, len(ict_model.expression_names)), 0.1))
    targets = _targets(decoder, start, seed=1)
    config = FitConfig(pose_steps=0, shape_steps=0, appearance_steps=0, emotion_steps=3)
    config.weights = replace(config.weights, test_emotion=1.0, start_expression=0.05)
    result = PhotoFitter(decoder, config, emotion).predict(targets, init=start)
    assert not torch.equal(result.expression, start.expression)
    for name in ("identity", "rotation", "offset", "light", "colours", "coefficients"):
        assert torch.equal(getattr(result, name), getattr(start, name)), name
    assert torch.allclose(result.scale, start.scale, rtol=1e-6)  # exp(log(scale)): rounding only
    off = PhotoFitter(decoder, replace(config, emotion_steps=0), emotion).predict(targets, init=start)
    assert torch.equal(off.expression, start.expression)


def test_an_emotion_stage_needs_the_recogniser(ict_model):
    config = FitConfig(emotion_steps=3)
    config.weights = replace(config.weights, test_emotion=1.0)
    with pytest.raises(ValueError, match="recogniser"):
        PhotoFitter(FaceDecoder(ict_model), config)


class _Fixed:
    """A predictor that answers `params` whatever it is asked."""

    def __init__(self, params: FaceParams) -> None:
        self.params = params

    def predict(self, targets, init=None, anchor=None, identity=None, shared_identity=False) -> FaceParams:
        return self.params.clone()

    def per_frame(self, steps):
        return self


def test_a_refinement_that_worsens_the_landmarks_keeps_the_start(ict_model, emotion):
    decoder = FaceDecoder(ict_model)
    truth = decoder.neutral(2).replace(scale=torch.tensor([0.075, 0.075]))
    targets = _targets(decoder, truth, seed=2)
    config = FitConfig(pose_steps=0, shape_steps=0, appearance_steps=0)
    refinement = EmotionRefinement(_Fixed(truth), PhotoFitter(decoder, config, emotion), emotion)
    moved = truth.replace(offset=truth.offset + torch.tensor([[0.3, 0.0], [0.0, 0.0]]))

    class Moving(PhotoFitter):
        def predict(self, targets, init=None, anchor=None, identity=None, shared_identity=False):
            return moved.clone()

    refinement.fitter = Moving(decoder, config, emotion)
    result = refinement.predict(targets)
    assert result.refined.tolist()[0] is False  # face 0 was pushed off its points: its start is kept
    assert torch.equal(result.offset[0], truth.offset[0])
    frames = refinement.per_frame((0, 0, 0, 0))  # a video's later frames are not checked (no flicker)
    frames.fitter = Moving(decoder, config, emotion)
    unchecked = frames.predict(targets)
    assert unchecked.refined is None and torch.equal(unchecked.offset, moved.offset)


def test_a_video_shortens_every_fit_of_a_predictor_and_keeps_the_emotion_stage(ict_model, emotion):
    decoder = FaceDecoder(ict_model)
    config = FitConfig(emotion_steps=4)
    config.weights = replace(config.weights, test_emotion=1.0)
    refinement = EmotionRefinement(_Fixed(decoder.neutral(1)), PhotoFitter(decoder, config, emotion), emotion)
    short = refinement.per_frame((0, 16, 0, 2))
    fit = short.fitter.config
    assert (fit.pose_steps, fit.shape_steps, fit.appearance_steps, fit.emotion_steps) == (0, 16, 0, 2)
    assert short.fitter.emotion is emotion and refinement.fitter.config.shape_steps == config.shape_steps


def test_reconstruct_with_emoca_says_what_the_refinement_kept(tmp_path, run_emoca):
    from emoca.datasets.helen import DEFAULT_ROOT as HELEN

    photo = HELEN.parent / "london" / "smiling" / "001.jpg"
    result = run_emoca("reconstruct", photo, "--out", tmp_path, "--method", "emoca")
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "001" / "params.json").read_text())
    face = document["faces"][0]
    assert face["refinement"]["kept"] in ("refined", "start") and "brows" in face["albedo"]["regions"]
    config = document["provenance"]["fit_config"]
    assert document["provenance"]["method"] == "emoca" and config["emotion_steps"] > 0
    assert config["weights"]["test_emotion"] > 0 and "emotion_fer.safetensors" in document["provenance"]["files"]


def test_the_photo_features_are_computed_once_for_the_same_photos_and_again_for_others():
    """`target` keeps the last photos' features (emoca's fit and its scores ask for the same photos): the
    same values give the kept features without a forward pass, other values (in place too) new ones."""
    calls = []

    class Counting(torch.nn.Module):
        def features(self, images):
            calls.append(len(images))
            return images.mean((2, 3)).repeat(1, 4)

    consistency = EmotionConsistency(Counting())
    photos = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    first = consistency.target(photos)
    assert torch.equal(consistency.target(photos.clone()), first) and calls == [2]
    photos[1] += 0.5
    moved = consistency.target(photos)
    assert calls == [2, 2] and torch.equal(moved[0], first[0]) and not torch.equal(moved[1], first[1])
    assert consistency.target(photos[:1]).shape == (1, 12) and calls == [2, 2, 1]
