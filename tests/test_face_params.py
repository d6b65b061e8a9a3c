"""`FaceParams` (the record every stage passes on) and the decoder that reads it."""

import pytest
import torch

from emoca.decode.decoder import FaceDecoder
from emoca.face_params import FaceParams
from emoca.facemodel.face_regions import REGIONS
from emoca.pipeline.video import smoothed_expression
from emoca.predictors.smoothing import OneEuroConfig, OneEuroFilter


def _params(batch: int, jaw: bool = False) -> FaceParams:
    generator = torch.Generator().manual_seed(batch)
    rand = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    return FaceParams(rand(batch, 100), rand(batch, 53), rand(batch, 3) * 0.2, 0.1 + rand(batch) * 0.01,
                      rand(batch, 2) * 0.1, rand(batch, 9, 3), rand(batch, len(REGIONS), 3), rand(batch, 8, 3),
                      rand(batch, 3) if jaw else None)


def test_rows_concatenation_and_copies():
    params = _params(3, jaw=True)
    assert len(params) == 3 and len(params[1]) == 1 and len(params[1:]) == 2 and len(params[-1]) == 1
    torch.testing.assert_close(params[-1].identity, params.identity[2:])
    joined = FaceParams.concat([params[0], params[1:]])
    for name in ("identity", "expression", "rotation", "scale", "offset", "light", "colours", "coefficients", "jaw"):
        assert torch.equal(getattr(joined, name), getattr(params, name))
    assert FaceParams.concat([_params(1), _params(2)]).jaw is None
    grad = params.replace(identity=params.identity.clone().requires_grad_(True))
    assert not grad.detach().identity.requires_grad and grad.identity.requires_grad
    clone = params.clone()
    clone.expression[0, 0] = 5.0
    assert params.expression[0, 0] != 5.0
    assert params.to("cpu").identity.device.type == "cpu"
    shared = params.with_identity(torch.ones(100))
    assert shared.identity.shape == (3, 100) and bool((shared.identity == 1).all())


@pytest.fixture(scope="module")
def decoder(ict_model):
    return FaceDecoder(ict_model)


def test_decoding_with_and_without_the_mesh_agrees(decoder):
    params = _params(2)
    full, fast = decoder.decode(params), decoder.decode(params, mesh=False)
    assert full.vertices.shape == (2, decoder.model.n_vertices, 3) and full.albedo.shape == full.vertices.shape
    assert fast.vertices is None and fast.albedo is None
    assert full.landmarks_68.shape == (2, 68, 2) and full.dense.shape == (2, 478, 2)
    torch.testing.assert_close(full.landmarks_68, fast.landmarks_68, atol=1e-2, rtol=0)  # pixels
    torch.testing.assert_close(full.dense, fast.dense, atol=1e-2, rtol=0)
    assert len(full[1].landmarks_68) == 1


def test_decoded_points_follow_the_camera_and_the_unposed_mesh_has_no_rotation(decoder):
    params = _params(1)
    shifted = params.replace(offset=params.offset + torch.tensor([[0.1, 0.0]]))
    moved = decoder.decode(shifted, mesh=False).dense - decoder.decode(params, mesh=False).dense
    torch.testing.assert_close(moved, torch.full_like(moved, 0.0) + torch.tensor([0.1 * 224 / 2, 0.0]), atol=1e-3,
                               rtol=0)  # +x in crop units is right in pixels
    turned = params.replace(rotation=torch.tensor([[0.0, 0.5, 0.0]]))
    torch.testing.assert_close(decoder.unposed(turned), decoder.unposed(params))
    assert decoder.mesh_identity(params).shape == (1, 100)


def test_rendering_a_decoded_face_gives_gradients_to_the_expression(decoder):
    params = _params(1).replace(expression=torch.full((1, 53), 0.2, requires_grad=True))
    decoded = decoder.decode(params)
    image = decoder.render(params, decoded, 64).image
    assert image.shape == (1, 3, 64, 64)
    image.mean().backward()
    assert params.expression.grad.abs().sum() > 0


def test_the_video_expression_filter_smooths_expression_and_jaw_only():
    first, second = _params(1, jaw=True), _params(1, jaw=True).replace(expression=torch.ones(1, 53),
                                                                      jaw=torch.ones(1, 3))
    smoothing = OneEuroFilter(25.0, OneEuroConfig(1.0, 1.0))
    assert torch.equal(smoothed_expression(first, smoothing).expression, first.expression)  # the first passes
    out = smoothed_expression(second, smoothing)
    for part in ("expression", "jaw"):  # part of the way from the first frame's value to the second's
        before, target, value = getattr(first, part), getattr(second, part), getattr(out, part)
        assert value.shape == target.shape and value.dtype == target.dtype
        assert bool(((value - before) * (target - before) > 0).all()) and bool((value < target).all())
    for part in ("identity", "rotation", "scale", "offset", "light", "colours", "coefficients"):
        assert torch.equal(getattr(out, part), getattr(second, part))
    smoothing.reset()  # a lost face: the next frame passes unchanged
    assert torch.equal(smoothed_expression(second, smoothing).expression, second.expression)
    smoothing.reset()
    assert smoothed_expression(_params(1), smoothing).jaw is None  # ICT has no jaw
