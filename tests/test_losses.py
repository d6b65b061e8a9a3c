"""Fitting losses (known answers, robustness, gradients) and the albedo model."""

import pytest
import torch

from emoca.decode.albedo import AlbedoModel
from emoca.decode.decoder import FaceDecoder
from emoca.facemodel.face_regions import REGIONS
from emoca.losses.closure import closure_loss
from emoca.losses.landmarks import landmark_loss
from emoca.losses.photometric import photometric_loss
from emoca.losses.priors import gaussian_prior, light_prior, sparsity_prior
from emoca.predictors.objective import LandmarkWeights, landmark_losses
from emoca.render.camera import weak_perspective
from emoca.targets import FaceTargets


def test_landmark_loss_known_answer_and_weights():
    detected = torch.zeros(2, 3, 2)
    projected = torch.tensor([[[3.0, 4.0], [0, 0], [0, 0]], [[0, 0], [0, 1], [0, 0]]])
    torch.testing.assert_close(landmark_loss(projected, detected), torch.tensor([5 / 3, 1 / 3]))
    weights = torch.tensor([0.0, 1.0, 1.0])
    torch.testing.assert_close(landmark_loss(projected, detected, weights, scale=torch.tensor([1.0, 2.0])),
                               torch.tensor([0.0, 0.25]))


def test_closure_loss_compares_openings_not_positions():
    detected = torch.tensor([[[0.0, 0.0], [0.0, 2.0]]])
    shifted = detected + 5  # same opening elsewhere: no loss
    torch.testing.assert_close(closure_loss(shifted, detected, [(0, 1)]), torch.tensor([0.0]))
    closed = torch.tensor([[[0.0, 1.0], [0.0, 1.0]]])
    torch.testing.assert_close(closure_loss(closed, detected, [(0, 1)]), torch.tensor([2.0]))


def test_photometric_loss_is_masked_and_robust():
    photo = torch.zeros(1, 3, 4, 4)
    render = torch.zeros(1, 3, 4, 4)
    render[..., 0, 0] = 0.05  # small error: counted in full
    render[..., 3, 3] = 1.0  # an occluder: counted as the threshold only
    mask = torch.ones(1, 1, 4, 4)
    torch.testing.assert_close(photometric_loss(render, photo, mask, threshold=0.15),
                               torch.tensor([(0.05 + 0.15) / 16]))
    mask[..., 3, 3] = 0
    torch.testing.assert_close(photometric_loss(render, photo, mask, threshold=0.15), torch.tensor([0.05 / 15]))


def test_priors():
    torch.testing.assert_close(gaussian_prior(torch.tensor([[1.0, -1.0, 2.0]])), torch.tensor([2.0]))
    torch.testing.assert_close(sparsity_prior(torch.tensor([[0.5, 0.0]])), torch.tensor([0.25]))
    grey = torch.zeros(1, 9, 3)
    grey[:, 0] = 1.0
    assert light_prior(grey) == 0
    coloured = grey.clone()
    coloured[:, 0, 0] = 2.0
    assert light_prior(coloured) > 0


@pytest.fixture(scope="module")
def albedo(ict_model):
    return AlbedoModel(ict_model)


def test_albedo_regions_and_smooth_basis(albedo, ict_model):
    membership = albedo.membership
    assert membership.shape == (ict_model.n_vertices, len(REGIONS))
    torch.testing.assert_close(membership.sum(-1), torch.ones(ict_model.n_vertices))  # one region per vertex
    lips = membership[:, REGIONS.index("lips")].bool()
    assert 100 < lips.sum() < 3000 and not (lips & ict_model.regions["eyeball_left"]).any()
    params = albedo.neutral_parameters(2)
    colours = albedo(**params)
    assert colours.shape == (2, ict_model.n_vertices, 3)
    torch.testing.assert_close(colours[0, lips][0], params["colours"][0, 1])
    params["coefficients"][1, 0] = 0.1
    changed = albedo(**params)[1] != colours[1]
    assert changed.any() and not changed[membership[:, REGIONS.index("iris")].bool()].any()  # eyes stay flat


def test_loss_and_camera_gradients_match_finite_differences():
    generator = torch.Generator().manual_seed(0)
    rand = lambda *shape: torch.rand(*shape, generator=generator, dtype=torch.float64)  # noqa: E731
    projected, detected = rand(2, 5, 2).requires_grad_(True), rand(2, 5, 2)
    torch.autograd.gradcheck(lambda p: landmark_loss(p, detected, scale=torch.tensor([0.5, 2.0], dtype=p.dtype)),
                             (projected,))
    torch.autograd.gradcheck(lambda p: closure_loss(p, detected, [(0, 1), (2, 3)]), (projected,))
    photo, mask = rand(1, 3, 4, 4), rand(1, 1, 4, 4)
    render = (photo + 0.05 * (rand(1, 3, 4, 4) - 0.5)).requires_grad_(True)  # inside the robust threshold
    torch.autograd.gradcheck(lambda r: photometric_loss(r, photo, mask), (render,))
    vertices, scale, offset = rand(2, 6, 3), rand(2).requires_grad_(True), rand(2, 2).requires_grad_(True)
    torch.autograd.gradcheck(lambda s, t: weak_perspective(vertices.requires_grad_(True), s, t, (32, 48)),
                             (scale, offset))


def test_landmark_losses_read_a_decoded_face(ict_model):
    """The shared terms are zero for a face decoded onto its own points and grow when it moves."""
    decoder = FaceDecoder(ict_model)
    params = decoder.neutral(1).replace(scale=torch.tensor([0.1]), offset=torch.tensor([[0.0, 0.05]]))
    decoded = decoder.decode(params, mesh=False)
    targets = FaceTargets(torch.zeros(1, 3, 224, 224), decoded.landmarks_68.detach(), decoded.dense.detach())
    losses = landmark_losses(decoded, targets, LandmarkWeights())
    assert set(losses) == {"dense", "ibug", "contour", "closure"}
    assert all(float(value) < 1e-5 for value in losses.values())
    moved = decoder.decode(params.replace(offset=torch.tensor([[0.02, 0.05]])), mesh=False)
    assert float(landmark_losses(moved, targets, LandmarkWeights())["ibug"]) > 0.1
