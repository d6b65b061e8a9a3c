"""Appearance: the albedo's smooth basis is mirror-symmetric and seamless; grey photos give grey faces."""

import numpy as np
import torch
from scipy.spatial import cKDTree

from emoca.decode.albedo import AlbedoModel
from emoca.decode.decoder import FaceDecoder
from emoca.predictors.grey import greyed, is_grey
from emoca.targets import FaceTargets


def test_the_albedo_basis_is_the_same_on_both_halves_and_smooth_across_the_mesh(ict_model):
    albedo = AlbedoModel(ict_model)
    template = ict_model.template.reshape(-1, 3).numpy()
    distance, mirror = cKDTree(template).query(template * [-1, 1, 1])
    assert distance.max() < 0.01  # ICT is symmetric: every vertex has its mirror image
    basis = albedo.basis.numpy()
    same = (albedo.membership.numpy()[mirror] == albedo.membership.numpy()).all(1)  # (regions are drawn per
    assert same.mean() > 0.99  #                                    vertex: a few hundred differ from their mirror)
    np.testing.assert_allclose(basis[mirror][same], basis[same], atol=2e-3)  # (the template: symmetric to 0.005 cm)
    # Seamless: along every edge the basis changes no more than its gradient allows (a function of position,
    # Lipschitz: |d cos(pi i a) cos(pi j b)| <= pi (i |da| + j |db|), i, j < 3); the UV basis jumped where
    # ICT's tiles meet.
    triangles = ict_model.triangles.numpy()
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    skin = albedo.membership[:, 0].numpy() > 0
    edges = edges[skin[edges].all(1)]
    face = template[ict_model.regions["face"].numpy()]
    across, height = np.abs(face[:, 0]).max(), np.ptp(face[:, 1])  # the basis's units (clamping only shrinks steps)
    step = np.abs(template[edges[:, 0]] - template[edges[:, 1]])
    bound = 2 * np.pi * (step[:, 0] / across + step[:, 1] / height)
    assert (np.abs(basis[edges[:, 0]] - basis[edges[:, 1]]).max(1) <= bound + 1e-4).all()
    colours = torch.tensor([[[0.6, 0.5, 0.4]] * albedo.membership.shape[1]])
    coefficients = torch.randn(1, albedo.n_coefficients, 3, generator=torch.Generator().manual_seed(0)) * 0.05
    rendered = albedo(colours, coefficients)[0].numpy()
    np.testing.assert_allclose(rendered[mirror][same], rendered[same], atol=1e-3)  # left and right halves agree


def test_grey_photos_give_grey_appearance_and_colour_photos_keep_theirs(ict_model):
    decoder = FaceDecoder(ict_model)
    generator = torch.Generator().manual_seed(1)
    params = decoder.neutral(2).replace(light=torch.rand(2, 9, 3, generator=generator),
                                        colours=torch.rand(2, 5, 3, generator=generator),
                                        coefficients=torch.rand(2, 8, 3, generator=generator))
    grey = torch.rand(1, 1, 32, 32, generator=generator).expand(1, 3, 32, 32)
    colour = torch.rand(1, 3, 32, 32, generator=generator)
    targets = FaceTargets(torch.cat([grey, colour]), torch.zeros(2, 68, 2), torch.zeros(2, 478, 2))
    assert is_grey(targets).tolist() == [True, False]
    out = greyed(params, targets)
    for name in ("light", "colours", "coefficients"):
        value, before = getattr(out, name), getattr(params, name)
        torch.testing.assert_close(value[0], before[0].mean(-1, keepdim=True).expand_as(before[0]))
        torch.testing.assert_close(value[1], before[1])
    torch.testing.assert_close(out.expression, params.expression)
