"""The regressor's networks, weight files, predictor seam, and the emotion-consistency loss."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from emoca.decode.decoder import FaceDecoder
from emoca.errors import InputError
from emoca.nets.backbone import IMAGENET_MEAN, IMAGENET_STD, efficientnet_lite0
from emoca.nets.emotion import EmotionConfig, EmotionNet
from emoca.nets.encoders import STEM_CHANNELS, TRUNK_SIZE, CoarseEncoder, ExpressionEncoder, Trunk, normalised_points
from emoca.nets.identity_head import fit_ridge, head_of, load_identity_head, save_identity_head
from emoca.nets.regressor import (
    Regressor,
    coarse_from_metadata,
    coarse_metadata,
    read_head,
)
from emoca.nets.weights_file import save_weights
from emoca.predictors.emotion_term import EmotionConsistency
from emoca.predictors.regressor import RegressorPredictor
from emoca.render.shading import default_light
from emoca.targets import FaceTargets
from emoca.train import regressor as trainer
from emoca.train.identity_head import nearest_is_same, subject_folds
from emoca.train.regressor import STAGES, StageConfig, StageLoss, _number, _overrides


def _inputs(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    features = torch.rand(batch, 1280, 4, 4, generator=generator)
    points = torch.rand(batch, 546, 2, generator=generator) * 2 - 1
    return features, points


def test_coarse_encoder_starts_at_the_neutral_face_and_the_expression_encoder_copies_it():
    coarse = CoarseEncoder(100, 53, 4, 8).eval()
    features, points = _inputs(3)
    with torch.no_grad():
        out = coarse(features, points)
    assert out.identity.shape == (3, 100) and out.expression.shape == (3, 53) and out.scale.shape == (3,)
    assert float(out.expression.max()) < 0.1 and float(out.expression.min()) > 0  # sigmoid, near 0
    assert out.light.shape == (3, 9, 3) and (out.light - default_light(3)).abs().max() < 0.1
    expression = ExpressionEncoder.from_coarse(coarse).eval()
    torch.testing.assert_close(expression(features, points), out.expression)


def test_the_recogniser_s_features_enter_the_expression_encoder_at_zero_and_alone_ignore_the_rest():
    coarse = CoarseEncoder(100, 53, 4, 8).eval()
    features, points = _inputs(3)
    emotion = torch.rand(3, 1280)
    with torch.no_grad():
        start = coarse(features, points).expression
        reading = ExpressionEncoder.from_coarse(coarse, inputs=("trunk", "points", "emotion")).eval()
        torch.testing.assert_close(reading(features, points, emotion), start)  # zero weights at first
        alone = ExpressionEncoder.from_coarse(coarse, inputs=("emotion",)).eval()
        torch.nn.init.normal_(alone.head.mlp[1].weight, std=0.05)
        torch.testing.assert_close(alone(features, points, emotion), alone(features * 3, -points, emotion))
        assert not torch.allclose(alone(features, points, emotion), alone(features, points, emotion.flip(0)))
    trained = ExpressionEncoder.from_coarse(coarse, inputs=("trunk", "points", "emotion")).train()
    trained(features, points, emotion).sum().backward()
    assert trained.head.mlp[1].weight.grad[:, -1280:].abs().sum() > 0  # the new inputs learn
    with pytest.raises(ValueError, match="pass `emotion`"):
        trained(features, points)
    with pytest.raises(ValueError, match="subset"):
        ExpressionEncoder(53, inputs=("pixels",))


def test_a_regressor_reading_the_recogniser_computes_its_features_from_the_crop(tmp_path):
    coarse = CoarseEncoder(100, 53, 4, 8).eval()
    expression = ExpressionEncoder.from_coarse(coarse, inputs=("trunk", "points", "emotion")).eval()
    torch.nn.init.normal_(expression.head.mlp[1].weight, std=0.05)
    save_weights(coarse, tmp_path / "coarse.safetensors", coarse_metadata(coarse, {"stage": "coarse"}))
    save_weights(expression, tmp_path / "expression.safetensors",
                 coarse_metadata(coarse, {"inputs": list(expression.inputs)}))
    loaded = Regressor.load(tmp_path / "coarse.safetensors", tmp_path / "expression.safetensors", None)
    assert loaded.reads_emotion and loaded.emotion is not None
    crops, points = torch.rand(2, 3, 224, 224), _inputs(2)[1]
    with torch.no_grad():
        small = torch.nn.functional.interpolate(crops, size=(TRUNK_SIZE, TRUNK_SIZE), mode="bilinear",
                                                antialias=True, align_corners=False)
        cached = loaded.emotion.features(small)  # what the training cache holds for these crops
        torch.testing.assert_close(loaded(crops, points).expression,
                                   loaded.from_stem(loaded.trunk.stem(small), points, cached).expression)
    with pytest.raises(ValueError, match="pass `emotion`"):
        Regressor(Trunk(pretrained=False), coarse, expression)


def test_the_trunk_is_the_backbone_split_and_an_own_tail_keeps_imagenet_statistics(tmp_path):
    trunk = Trunk()
    images = torch.rand(2, 3, TRUNK_SIZE, TRUNK_SIZE)
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    with torch.no_grad():
        stem = trunk.stem(images)
        expected = efficientnet_lite0(TRUNK_SIZE).eval().extract_features((images - mean) / std)
        torch.testing.assert_close(trunk.tail(stem), expected)
    assert stem.shape == (2, STEM_CHANNELS, 4, 4)
    coarse = CoarseEncoder(100, 53, 4, 8).eval()
    expression = ExpressionEncoder.from_coarse(coarse, trunk.tail).train()
    assert expression.head.training and not expression.tail.training  # batch norm never updates
    assert not any(part.training for part in [*trunk.train().stem.modules(), *trunk.tail.modules()])  # nor the trunk's
    assert expression.tail.conv.weight is not trunk.tail.conv.weight  # a copy: the coarse path stays frozen
    save_weights(coarse, tmp_path / "coarse.safetensors", coarse_metadata(coarse, {"stage": "coarse"}))
    save_weights(expression, tmp_path / "expression.safetensors", coarse_metadata(coarse, {"own_tail": True}))
    loaded = Regressor.load(tmp_path / "coarse.safetensors", tmp_path / "expression.safetensors", None)
    points = _inputs(2)[1]
    with torch.no_grad():
        torch.testing.assert_close(loaded(images, points).expression, expression.eval()(stem, points), atol=2e-3,
                                   rtol=0)


def test_folding_the_batch_norms_keeps_the_trunk_s_function():
    trunk, images = Trunk(), torch.rand(2, 3, 160, 160)
    with torch.no_grad():
        expected = trunk(images)
        folded = trunk.fold_batch_norm()(images)
    assert not any(isinstance(part, torch.nn.BatchNorm2d) for part in trunk.modules())
    assert trunk.stem.conv.bias is not None and expected.abs().max() > 1
    torch.testing.assert_close(folded, expected, atol=1e-4, rtol=1e-4)


def test_weights_round_trip_in_fp16_and_missing_files_say_how_to_retrain(tmp_path):
    coarse = CoarseEncoder(100, 53, 4, 8).eval()
    save_weights(coarse, tmp_path / "coarse.safetensors", coarse_metadata(coarse, {"stage": "coarse"}))
    state, metadata = read_head(tmp_path / "coarse.safetensors")
    loaded = coarse_from_metadata(metadata)
    loaded.load_state_dict(state)
    loaded.eval()
    features, points = _inputs(2)
    torch.testing.assert_close(loaded(features, points).expression, coarse(features, points).expression, atol=2e-3,
                               rtol=0)
    with pytest.raises(InputError, match="python -m emoca.train.regressor"):
        read_head(tmp_path / "missing.safetensors")
    (tmp_path / "broken.safetensors").write_bytes(b"not a weights file")
    with pytest.raises(InputError, match="broken.safetensors"):
        read_head(tmp_path / "broken.safetensors")


def test_the_regressor_as_a_predictor_shares_or_keeps_an_identity():
    regressor = Regressor(Trunk(pretrained=False), CoarseEncoder(100, 53, 4, 8))
    torch.nn.init.normal_(regressor.coarse.head.mlp[-1].weight, std=0.1)  # identities differ per face
    predictor = RegressorPredictor(regressor, 224)
    targets = FaceTargets(torch.rand(2, 3, 224, 224), torch.rand(2, 68, 2) * 224, torch.rand(2, 478, 2) * 224)
    params = predictor.predict(targets)
    assert params.identity.shape == (2, 100) and not torch.equal(params.identity[0], params.identity[1])
    shared = predictor.predict(targets, shared_identity=True)
    torch.testing.assert_close(shared.identity, params.identity.mean(0, keepdim=True).expand(2, -1))
    kept = predictor.predict(targets, identity=torch.zeros(100))
    assert bool((kept.identity == 0).all())
    points = normalised_points(targets.landmarks_68, targets.dense, 224)
    assert points.shape == (2, 546, 2) and points.abs().max() <= 1


def test_emotion_consistency_is_zero_for_the_photo_and_reaches_the_render():
    loss = EmotionConsistency(EmotionNet(EmotionConfig(pretrained=False)))
    photo = torch.rand(2, 3, 64, 64)
    target = loss.target(photo)
    torch.testing.assert_close(loss(photo, target), torch.zeros(2), atol=1e-5, rtol=0)
    render = torch.rand(2, 3, 64, 64, requires_grad=True)
    distance = loss(render, target)
    assert bool((distance > 0).all())
    distance.sum().backward()
    assert render.grad.abs().sum() > 0 and all(p.grad is None for p in loss.net.parameters())
    same = loss.compare(photo, target)
    torch.testing.assert_close(same.divergence, torch.zeros(2), atol=1e-5, rtol=0)
    assert bool(same.agrees.all())


class _ColourNet(torch.nn.Module):
    """A stand-in recogniser: features are the mean colour, the classifier the identity (3 classes)."""

    def __init__(self) -> None:
        super().__init__()
        self.classifier = torch.nn.Identity()

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean((2, 3))


def test_the_class_divergence_is_kl_from_the_photo_and_agreement_the_top_class():
    loss = EmotionConsistency(_ColourNet())
    photo = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]).view(2, 3, 1, 1).expand(2, 3, 4, 4)
    render = torch.tensor([[0.0, 1.0, 0.0], [0.0, 2.0, 0.0]]).view(2, 3, 1, 1).expand(2, 3, 4, 4)
    compared = loss.compare(render, loss.target(photo))
    p, q = torch.softmax(torch.tensor([1.0, 0, 0]), 0), torch.softmax(torch.tensor([0, 1.0, 0]), 0)
    torch.testing.assert_close(compared.divergence, torch.stack([(p * (p / q).log()).sum(), torch.tensor(0.0)]))
    torch.testing.assert_close(compared.distance, torch.tensor([1.0, 0.0]))  # orthogonal, then equal colours
    assert compared.agrees.tolist() == [False, True]


@pytest.mark.parametrize("own_tail", [False, True])
def test_the_expression_stage_loss_trains_the_expression_encoder_only(ict_model, own_tail):
    decoder = FaceDecoder(ict_model, TRUNK_SIZE)
    coarse = CoarseEncoder(100, 53, 4, 8).eval().requires_grad_(False)
    trunk = Trunk(pretrained=False)
    expression = ExpressionEncoder.from_coarse(coarse, trunk.tail if own_tail else None)
    regressor = Regressor(trunk, coarse, expression)
    stem, points = torch.rand(2, STEM_CHANNELS, 4, 4), _inputs(2)[1]
    with torch.no_grad():
        start = regressor.from_stem(stem, points)
        placed = decoder.decode(start.replace(scale=torch.full((2,), 0.11)), mesh=False)
    batch = {"images": torch.rand(2, 3, TRUNK_SIZE, TRUNK_SIZE), "landmarks_68": placed.landmarks_68,
             "dense": placed.dense, "photo_emotion": torch.rand(2, 1280)}
    loss = StageLoss(decoder, STAGES["expression"], EmotionConsistency(EmotionNet(EmotionConfig(pretrained=False))))
    losses = loss(regressor.from_stem(stem, points), batch)
    assert {"ibug", "photometric", "emotion", "expression_prior", "_emotion_disagreement"} <= set(losses)
    assert all(bool(torch.isfinite(v).all()) for v in losses.values())
    sum(v for k, v in losses.items() if not k.startswith("_")).sum().backward()
    assert regressor.expression.head.mlp[-1].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in [*coarse.parameters(), *trunk.parameters()])
    if own_tail:  # its own copy of the tail learns; the shared trunk's stays as it was
        assert regressor.expression.tail.conv.weight.grad.abs().sum() > 0


def test_a_render_s_exact_expression_is_a_sum_of_squares_and_photos_without_one_add_nothing(ict_model):
    decoder = FaceDecoder(ict_model, TRUNK_SIZE)
    params = decoder.neutral(3).replace(expression=torch.rand(3, 53), scale=torch.full((3,), 0.11))
    with torch.no_grad():
        placed = decoder.decode(params, mesh=False)
    truth = params.expression.clone()
    truth[1] += 0.1  # a render whose expression is off by 0.1 in every weight
    truth[2] = float("nan")  # a photo: no exact expression
    batch = {"images": torch.rand(3, 3, TRUNK_SIZE, TRUNK_SIZE), "landmarks_68": placed.landmarks_68,
             "dense": placed.dense, "pseudo_true_expression": truth}
    config = replace(STAGES["expression"], true_expression=2.0, identity_head=False)
    losses = StageLoss(decoder, config, None)(params, batch)
    torch.testing.assert_close(losses["true_expression"], torch.tensor([0.0, 2.0 * 53 * 0.01, 0.0]))
    assert "true_expression" not in StageLoss(decoder, replace(config, true_expression=0.0), None)(params, batch)


def test_synthetic_training_renders_carry_their_scenes_exact_expressions(ict_model):
    from emoca.decode.albedo import AlbedoModel
    from emoca.synthetic import SIZE, random_scene
    from emoca.train.regressor_data import synthetic_source

    albedo = AlbedoModel(ict_model)
    source = synthetic_source(ict_model, albedo, 2, seed=5)
    generator = torch.Generator().manual_seed(5)
    expected = np.concatenate([random_scene(ict_model, albedo, generator)["params"]["expression"].numpy()
                               for _ in range(2)])
    np.testing.assert_array_equal(source.true_expression, expected)
    assert source.name == "synthetic_train" and source.count == 2 and (expected > 0).any()
    images = [image for image, _ in source.items]
    assert len(images) == 2 and images[0].shape == (SIZE, SIZE, 3) and images[0].dtype == np.uint8
    assert images[0].std() > 10  # a rendered face, not a blank


def test_the_identity_head_is_the_ridge_fit_and_survives_its_fp16_file(tmp_path):
    generator = np.random.default_rng(0)
    inputs = generator.normal(size=(400, 2 * 546)) * 0.1
    truth = generator.normal(size=(2 * 546, 100)) * 0.05
    targets = inputs @ truth + 0.3
    fit = fit_ridge(inputs, targets, penalty=1e-6)
    np.testing.assert_allclose(fit(inputs), targets, atol=1e-4)  # an exact linear map is recovered
    noise = generator.normal(size=(100, 2 * 546))  # rows of weight 0 change nothing
    ignored = fit_ridge(np.concatenate([inputs, noise]), np.concatenate([targets, noise[:, :100]]), 1e-6,
                        np.concatenate([np.ones(400), np.zeros(100)]))
    np.testing.assert_allclose(ignored(inputs), targets, atol=1e-4)
    head = head_of(fit).eval().requires_grad_(False)
    points = torch.as_tensor(inputs[:5].reshape(5, 546, 2), dtype=torch.float32)
    torch.testing.assert_close(head(points), torch.as_tensor(fit(inputs[:5]), dtype=torch.float32), atol=1e-4,
                               rtol=1e-4)
    save_identity_head(head, tmp_path / "identity.safetensors", {"penalty": 1e-6})
    loaded = load_identity_head(tmp_path / "identity.safetensors")
    with torch.no_grad():
        assert float((loaded(points) - head(points)).abs().max()) < 0.05  # fp16 storage, in standard deviations
    with pytest.raises(InputError, match="python -m emoca.train.identity_head"):
        load_identity_head(tmp_path / "missing.safetensors")
    regressor = Regressor(Trunk(pretrained=False), CoarseEncoder(100, 53, 4, 8), identity=loaded).eval()
    with torch.no_grad():
        torch.testing.assert_close(regressor.from_stem(torch.rand(5, STEM_CHANNELS, 4, 4), points).identity,
                                   loaded(points))


def test_retrieval_and_subject_folds_know_their_answers():
    identities = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.0, 5.2], [9.0, 0.0]])
    assert nearest_is_same(identities, np.array(["a", "a", "b", "b", "c"])) == 0.8  # c's nearest is another person
    assert nearest_is_same(identities, np.array(["a", "b", "a", "b", "c"])) == 0.0
    subjects = np.array(["a", "a", "b", "b", "b", "c", "d", "d", "e", "e"])
    folds = subject_folds(subjects, 2)
    assert not (folds[0] & folds[1]).any() and not (folds[0] | folds[1])[5]  # c (one photo) in no fold
    assert (folds[0] | folds[1]).sum() == 9
    for fold in folds:  # a person's photos stay together
        assert all(fold[subjects == person].all() or not fold[subjects == person].any() for person in "abde")


def test_stage_numbers_are_set_by_name_and_type():
    assert _number(StageConfig, "emotion_classes", "1.5") == 1.5
    assert _number(StageConfig, "steps", "20") == 20
    assert _number(StageConfig, "identity_head", "false") is False
    assert _number(StageConfig, "expression_inputs", "emotion") == "emotion"
    with pytest.raises(ValueError, match="not one of the stage's numbers"):
        _number(StageConfig, "landmarks", "1")
    assert _number(StageConfig, "landmarks.ibug", "10") == 10.0
    with pytest.raises(ValueError, match="'nose' is not"):
        _number(StageConfig, "landmarks.nose", "1")
    config = _overrides(STAGES["expression"], {"landmarks.ibug": 10.0, "emotion": 2.0})
    assert (config.landmarks.ibug, config.landmarks.dense, config.emotion) == (10.0, 0.5, 2.0)
    assert STAGES["expression"].landmarks.ibug == 5.0  # the stage's own config is untouched


def test_a_missing_cache_or_one_from_before_the_stem_split_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setattr(trainer, "CACHE", tmp_path)
    with pytest.raises(InputError, match=r"synthetic_train\.npz: not cached: run `python -m emoca\.train"):
        trainer.FaceCache(("synthetic_train",))
    np.savez(tmp_path / "old.npz", crops=np.zeros((1, 4, 4, 3), np.uint8), trunk=np.zeros((1, 1280, 4, 4)))
    with pytest.raises(InputError, match=r"old\.npz: .*python -m emoca.train.regressor_data"):
        trainer.FaceCache(("old",))
    np.savez(tmp_path / "browless.npz", crops=np.zeros((1, 4, 4, 3), np.uint8), stem=np.zeros((1, 192, 4, 4)),
             fit_colours=np.zeros((1, 4, 3), np.float32))
    with pytest.raises(InputError, match=r"browless\.npz: cached with 4 albedo colours.*regressor_data"):
        trainer.FaceCache(("browless",))
