"""Expression correctives: the within-subject slope (known answers), the shipped matrix, the fitter's use."""

import numpy as np
import torch

from emoca.decode.expression_correctives import CORRECTIVES, load_correctives, within_subject_slope
from emoca.decode.face_terms import ICTTerms
from emoca.decode.jaw_contour import JawContour
from emoca.facemodel.ict import ICTFaceModel


def test_within_subject_slope_recovers_the_drift_and_ignores_differences_between_people():
    rng = np.random.default_rng(0)
    people, photos, n_expression, n_identity = 200, 4, 6, 5
    slope = rng.normal(size=(n_expression, n_identity))
    habit = rng.uniform(0, 1, size=(people, n_expression))  # each person's usual expression ...
    base = habit @ rng.normal(size=(n_expression, n_identity)) * 3  # ... correlated with their identity
    expression = np.clip(habit[:, None] + rng.normal(0, 0.3, (people, photos, n_expression)), 0, 1)
    identity = base[:, None] + expression @ slope + rng.normal(0, 0.01, (people, photos, n_identity))
    subjects = [f"p{p}" for p in range(people) for _ in range(photos)]
    found = within_subject_slope(identity.reshape(-1, n_identity), expression.reshape(-1, n_expression),
                                 subjects, ridge=1e-6)
    assert np.abs(found - slope).max() < 0.01
    pooled = np.linalg.lstsq(expression.reshape(-1, n_expression) - expression.mean((0, 1)),
                             identity.reshape(-1, n_identity) - identity.mean((0, 1)), rcond=None)[0]
    assert np.abs(pooled - slope).max() > 0.5  # a regression across people would be confounded
    shrunk = within_subject_slope(identity.reshape(-1, n_identity), expression.reshape(-1, n_expression),
                                  subjects, ridge=1e6)
    assert np.abs(shrunk).max() < 0.05


def test_shipped_correctives_fit_ict_and_a_wrong_size_is_ignored(tmp_path):
    correctives = load_correctives(53, 100)
    assert correctives is not None and correctives.shape == (53, 100) and torch.isfinite(correctives).all()
    assert CORRECTIVES.stat().st_size < 100_000
    np.savez(tmp_path / "other.npz", correctives=np.zeros((53, 40), np.float32))
    assert load_correctives(53, 100, tmp_path / "other.npz") is None
    assert load_correctives(53, 100, tmp_path / "missing.npz") is None


def test_ict_terms_pose_the_mesh_at_the_corrected_identity():
    model = ICTFaceModel()
    terms = ICTTerms(model, JawContour(model).candidates)
    generator = torch.Generator().manual_seed(0)
    identity = torch.randn(2, model.n_identity, generator=generator)
    expression = torch.rand(2, 53, generator=generator) * 0.5
    mesh_identity = terms.mesh_identity(identity, expression)
    assert torch.allclose(mesh_identity, identity + expression @ terms.correctives)
    assert torch.allclose(terms.unposed(identity, expression), model.shape(mesh_identity, expression), atol=1e-4)
    assert torch.equal(terms.mesh_identity(identity, torch.zeros(2, 53)), identity)  # neutral: no correction
    rotation = torch.tensor([[0.1, -0.3, 0.05], [0.0, 0.2, 0.0]])
    dense, ibug, jaw = terms.landmark_points(identity, expression, rotation)
    full = terms.points_on(terms.posed(identity, expression, rotation))
    for fast, slow in zip((dense, ibug, jaw), full, strict=True):
        assert torch.allclose(fast, slow, atol=1e-3)


def test_folded_posing_is_the_model_at_the_corrected_identity_and_the_held_neutral_follows_the_values():
    """`posed` (the correctives folded into the expression basis) equals ICT's own forward at
    `mesh_identity`; the neutral kept for a held identity is recomputed when the identity's values change,
    in place included, and is not used for an identity with a gradient."""
    model = ICTFaceModel()
    terms = ICTTerms(model, JawContour(model).candidates)
    generator = torch.Generator().manual_seed(1)
    identity = torch.randn(2, model.n_identity, generator=generator)
    expression = torch.rand(2, 53, generator=generator) * 0.5
    rotation = torch.tensor([[0.1, -0.3, 0.05], [0.0, 0.2, 0.0]])

    def reference() -> torch.Tensor:
        return model(terms.mesh_identity(identity, expression), expression, rotation, torch.zeros(2, 3)).vertices

    assert torch.allclose(terms.posed(identity, expression, rotation), reference(), atol=1e-4)
    assert torch.allclose(terms.posed(identity, expression, rotation), reference(), atol=1e-4)  # held
    identity[0, :5] += 1.0  # the same tensor, other values
    assert torch.allclose(terms.posed(identity, expression, rotation), reference(), atol=1e-4)
    moving = identity.clone().requires_grad_(True)
    terms.posed(moving, expression, rotation).sum().backward()
    assert moving.grad is not None and moving.grad.abs().sum() > 0
    terms.correctives = None  # the training of the correctives starts from ICT's own blendshapes
    assert torch.allclose(terms.posed(identity, expression, rotation),
                          model(identity, expression, rotation, torch.zeros(2, 3)).vertices, atol=1e-4)
