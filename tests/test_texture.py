"""The texture atlas and the texture taken from a photo: layout, known answers on renders, bad views."""

import math

import numpy as np
import pytest
import torch

from emoca.render.camera import weak_perspective
from emoca.render.renderer import Renderer, RendererConfig
from emoca.render.shading import default_light
from emoca.texture.atlas import EYE, EYE_BOX, FACE, HEAD, atlas_of, mirrored, texels
from emoca.texture.from_photo import TextureBuilder, TextureConfig

SIZE = 320  # the test photos' side, pixels


@pytest.fixture(scope="module")
def builder(ict_model):
    return TextureBuilder(ict_model, TextureConfig(size=128, work_rows=128))


def _rotation(yaw: float) -> torch.Tensor:
    c, s = math.cos(yaw), math.sin(yaw)
    return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _albedo(model) -> torch.Tensor:
    """A known albedo, mirror-symmetric (a function of |x|, y and z), in [0.2, 0.8]."""
    template = model.template.reshape(-1, 3)
    span = template.abs().amax(0)
    x, y, z = (template / span).unbind(1)
    return 0.5 + 0.3 * torch.stack([torch.cos(3 * x.abs()), torch.sin(2 * y), torch.cos(2 * z)], 1)


def _photo(model, yaw: float = 0.0, scale: float = 0.06, offset=(0.0, 0.0)):
    """(photo uint8, posed vertices, screen vertices, albedo, light) of the neutral face with `_albedo`."""
    vertices = model.template.reshape(-1, 3) @ _rotation(yaw).T
    screen = weak_perspective(vertices[None], torch.tensor([scale]), torch.tensor([offset]), (SIZE, SIZE))
    light, albedo = default_light(1), _albedo(model)
    with torch.no_grad():
        image = Renderer(model.triangles, config=RendererConfig(image_size=(SIZE, SIZE)))(
            vertices[None], screen, albedo[None], light).image
    photo = (image[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    return photo, vertices, screen[0], albedo, light[0]


def test_the_atlas_keeps_every_part_apart_and_its_tiles_mirror_the_face(ict_model):
    atlas = atlas_of(ict_model)
    used = atlas.uv[np.unique(atlas.triangles_uv)]  # (the model's UV list also has its unused parts')
    assert used.min() >= 0 and used.max() <= 1 and atlas.eye_uv.any()
    u, v, side = EYE_BOX
    eyes = atlas.uv[atlas.eye_uv]
    assert (eyes[:, 0] >= u / 2).all() and (eyes[:, 0] <= (u + side) / 2).all() and (eyes[:, 1] >= v).all()
    grid = texels(ict_model, atlas, 64)
    assert {FACE, HEAD, EYE} <= set(np.unique(grid.part).tolist())
    assert (grid.barycentric.sum(1) == pytest.approx(1, abs=1e-4)) and (grid.barycentric >= -1e-4).all()
    image = np.arange(64 * 128).reshape(64, 128)
    np.testing.assert_array_equal(mirrored(mirrored(image)), image)
    # A vertex and its mirror (x -> -x) sit at mirrored texels of the face tile.
    positions = grid.interpolate(ict_model.template.reshape(-1, 3).numpy())
    face = grid.part.reshape(-1)[grid.index] == FACE
    flat = np.zeros((64 * 128, 3), np.float32)
    flat[grid.index] = positions
    swapped = mirrored(flat.reshape(64, 128, 3)).reshape(-1, 3)[grid.index[face]]
    both = mirrored((grid.part == FACE).astype(np.uint8)).reshape(-1)[grid.index[face]] > 0
    error = np.abs(swapped[both] * [-1, 1, 1] - positions[face][both]).max(1)
    assert np.median(error) < 0.3  # cm, a texel of 64 rows is about 0.5 cm on the face


def test_a_render_of_a_known_albedo_gives_that_albedo_back(ict_model, builder):
    photo, vertices, screen, albedo, light = _photo(ict_model)
    texture = builder(photo, vertices, screen, torch.full_like(albedo, 0.5), light)
    assert texture.image.shape == (128, 256, 3) and texture.image.dtype == np.uint8
    assert texture.seen > 0.8 and not texture.mostly_hidden
    grid = builder.texels
    truth = grid.image(grid.interpolate(albedo.numpy()))
    got = texture.image.astype(np.float32) / 255
    frontal = (grid.part == FACE) & (grid.image(grid.interpolate(vertices.numpy()))[..., 2] > 5)  # the face's front
    error = np.abs(got - truth)[frontal].mean()
    assert error < 0.03, error  # de-lit: the photo divided by the light that shaded it
    assert np.abs(got - 0.5)[frontal].mean() > 3 * error  # and not the 0.5 grey of the fitted albedo


def test_what_a_turned_head_hides_comes_from_its_mirror_side(ict_model, builder):
    photo, vertices, screen, albedo, light = _photo(ict_model, yaw=0.9)
    texture = builder(photo, vertices, screen, torch.full_like(albedo, 0.5), light)
    grid = builder.texels
    truth = grid.image(grid.interpolate(albedo.numpy()))
    got = texture.image.astype(np.float32) / 255
    template = grid.image(grid.interpolate(ict_model.template.reshape(-1, 3).numpy()))
    cheek = (grid.part == FACE) & (template[..., 2] > 5) & (np.abs(template[..., 0]) > 3)
    assert texture.seen < 0.9
    assert np.abs(got - truth)[cheek].mean() < 0.06  # both cheeks, the hidden one from its mirror


@pytest.mark.parametrize("case", ["border", "profile", "tiny", "outside"])
def test_bad_views_still_give_a_complete_texture(ict_model, builder, case):
    options = {"border": {"offset": (1.1, 0.0)}, "profile": {"yaw": 1.6}, "tiny": {"scale": 0.004},
               "outside": {"offset": (5.0, 5.0)}}[case]
    photo, vertices, screen, albedo, light = _photo(ict_model, **options)
    texture = builder(photo, vertices, screen, albedo, light)
    skin = (builder.texels.part == FACE) | (builder.texels.part == HEAD)  # (the eyes have a black pupil)
    assert (texture.image[skin].max(1) > 25).all()  # no black holes: the albedo is at least 0.2
    if case in ("profile", "outside", "border"):
        assert texture.mostly_hidden and texture.seen < 0.5
