"""The decoder on its own (`emoca.decode.decoder`): its fast landmark path against the full mesh, the pose
and camera as stated, and gradients that match finite differences on the differentiable path."""

import pytest
import torch
from scipy.spatial.transform import Rotation

from emoca.decode.decoder import FaceDecoder
from emoca.decode.jaw_contour import JAW


@pytest.fixture(scope="module")
def decoder(ict_model) -> FaceDecoder:
    return FaceDecoder(ict_model, 224)


def _params(decoder: FaceDecoder, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    params = decoder.neutral(2)
    return params.replace(identity=0.5 * torch.randn(params.identity.shape, generator=generator),
                          expression=0.3 * torch.rand(params.expression.shape, generator=generator),
                          rotation=0.2 * torch.randn(2, 3, generator=generator), scale=torch.tensor([0.9, 1.1]),
                          offset=torch.tensor([[0.05, -0.02], [-0.1, 0.0]]))


def test_the_points_only_decoding_equals_the_full_one(decoder):
    params = _params(decoder)
    with torch.no_grad():
        full, fast = decoder.decode(params), decoder.decode(params, mesh=False)
    torch.testing.assert_close(fast.landmarks_68, full.landmarks_68, atol=1e-3, rtol=0)
    torch.testing.assert_close(fast.dense, full.dense, atol=1e-3, rtol=0)
    assert fast.vertices is None and full.vertices.shape == (2, decoder.model.n_vertices, 3)
    assert full.albedo.min() >= 0 and full.albedo.max() <= 1


def test_decoding_for_output_adds_the_unposed_mesh_and_the_mesh_identity(decoder):
    params = _params(decoder)
    with torch.no_grad():
        plain, output, points = decoder.decode(params), decoder.decode(params, output=True), \
            decoder.decode(params, mesh=False, output=True)
        assert torch.equal(output.vertices, plain.vertices) and plain.unposed is None and plain.mesh_identity is None
        assert torch.equal(output.unposed, decoder.unposed(params))
        assert torch.equal(output.mesh_identity, decoder.mesh_identity(params))
    assert points.unposed is None and points.mesh_identity is None  # output needs the mesh
    assert output[1].unposed.shape == (1, decoder.model.n_vertices, 3) and output.cpu().mesh_identity.shape == (2, 100)


def test_the_head_rotation_is_a_rigid_turn_of_the_unposed_face_and_the_camera_a_weak_perspective(decoder):
    params = _params(decoder)
    with torch.no_grad():
        posed = decoder.decode(params).vertices
        unposed = decoder.unposed(params)
    turn = torch.from_numpy(Rotation.from_rotvec(params.rotation.double().numpy()).as_matrix()).float()
    torch.testing.assert_close(posed, torch.einsum("bij,bvj->bvi", turn, unposed), atol=1e-3, rtol=0)
    # Pixels: p = (scale * (R v)[:2] + offset) in [-1, 1], y up, on a 224-pixel crop, 0 at a pixel's centre.
    points = posed[:, :5]
    pixels = decoder.project(points, params.scale, params.offset)
    normalised = params.scale[:, None, None] * points[..., :2] + params.offset[:, None]
    expected = torch.stack([(normalised[..., 0] + 1) * 112, (1 - normalised[..., 1]) * 112], -1) - 0.5
    torch.testing.assert_close(pixels, expected, atol=1e-3, rtol=0)


def test_gradients_match_finite_differences_on_the_differentiable_path(decoder):
    """Directional derivatives of the smooth points (the 478 dense and iBUG 17-67; the jawline picks
    silhouette candidates, piecewise) w.r.t. identity, expression, rotation and camera."""
    params = _params(decoder, seed=1)
    generator = torch.Generator().manual_seed(2)
    weights = torch.randn(2, 478 + 68 - len(JAW), 2, generator=generator)

    def energy(identity, expression, rotation, scale, offset) -> torch.Tensor:
        decoded = decoder.decode(params.replace(identity=identity, expression=expression, rotation=rotation,
                                                scale=scale, offset=offset), mesh=False)
        points = torch.cat([decoded.dense, decoded.landmarks_68[:, len(JAW):]], 1)
        return (weights * points).sum() / 224

    inputs = [params.identity, params.expression, params.rotation, params.scale, params.offset]
    for index, step in enumerate((1e-2, 1e-2, 1e-3, 1e-3, 1e-3)):
        variables = [value.clone().requires_grad_(i == index) for i, value in enumerate(inputs)]
        gradient = torch.autograd.grad(energy(*variables), variables[index])[0]
        direction = torch.randn(inputs[index].shape, generator=generator)
        with torch.no_grad():
            moved = [value.clone() for value in inputs]
            moved[index] = inputs[index] + step * direction
            ahead = energy(*moved)
            moved[index] = inputs[index] - step * direction
            behind = energy(*moved)
        numeric = (ahead - behind) / (2 * step)
        analytic = (gradient * direction).sum()
        assert abs(float(numeric - analytic)) <= 2e-2 * max(1.0, abs(float(analytic))), (index, numeric, analytic)
