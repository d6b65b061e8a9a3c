"""Renderer: analytic scenes, the compiled kernels against the PyTorch reference, gradients."""

import numpy as np
import pytest
import torch

from emoca.render.antialias import antialias, edge_neighbours
from emoca.render.barycentric_cpu import PixelBarycentric, PixelInterpolate
from emoca.render.camera import perspective, weak_perspective
from emoca.render.rasterize import interpolate, perspective_barycentric, rasterize
from emoca.render.renderer import Renderer, RendererConfig
from emoca.render.shading import VertexNormals, sh_basis, sh_shading
from emoca.render.sparse import SparseLinearMap


def _screen(points, w=None):
    points = torch.as_tensor(points, dtype=torch.float64)
    w = torch.ones(len(points), dtype=torch.float64) if w is None else torch.as_tensor(w, dtype=torch.float64)
    return torch.cat([points, w[:, None]], -1)[None]  # (1, V, 4): x, y, depth, w


def _inside(px, py, tri):
    (ax, ay), (bx, by), (cx, cy) = tri
    d1 = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    d2 = (cx - bx) * (py - by) - (cy - by) * (px - bx)
    d3 = (ax - cx) * (py - cy) - (ay - cy) * (px - cx)
    return (d1 > 0 and d2 > 0 and d3 > 0) or (d1 < 0 and d2 < 0 and d3 < 0)


def test_four_triangle_scene_matches_analytic_coverage_and_depth_order():
    # Two background triangles (depth 5) covering the left 12 columns, a front triangle (depth 1),
    # and one half behind the background (depth 9). No pixel centre lies on an edge.
    vertices = [
        (0.25, 0.25, 5), (12.25, 0.25, 5), (12.25, 15.75, 5), (0.25, 15.75, 5),
        (2.3, 1.3, 1), (14.7, 6.2, 1), (4.1, 13.6, 1),
        (6.6, 2.2, 9), (15.8, 14.9, 9), (9.1, 15.3, 9),
    ]
    triangles = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6], [7, 8, 9]])
    screen = _screen(vertices)
    rast = rasterize(screen, triangles, (16, 16))
    expected = np.full((16, 16), -1)
    for row in range(16):
        for col in range(16):
            best = np.inf
            for t, tri in enumerate(triangles.tolist()):
                corners = [vertices[i][:2] for i in tri]
                depth = vertices[tri[0]][2]
                if _inside(col + 0.5, row + 0.5, corners) and depth < best:
                    best, expected[row, col] = depth, t
    np.testing.assert_array_equal(rast.triangle_id[0].numpy(), expected)
    assert (expected == 2).sum() > 20 and (expected == 3).sum() > 5  # every triangle is seen somewhere


def test_shared_edges_through_pixel_centres_are_covered_exactly_once():
    # A square split along a diagonal that passes exactly through pixel centres.
    screen = _screen([(0, 0, 1), (8, 0, 1), (8, 8, 1), (0, 8, 1)])
    for triangles in (torch.tensor([[0, 1, 2], [0, 2, 3]]), torch.tensor([[0, 2, 1], [0, 3, 2]])):
        rast = rasterize(screen, triangles, (8, 8))
        assert (rast.triangle_id[0] >= 0).all()
        diagonal = rast.triangle_id[0].diagonal()
        assert len(set(diagonal.tolist())) == 1  # one consistent owner of the shared edge


def test_triangles_behind_the_camera_are_dropped():
    screen = _screen([(0, 0, 1), (8, 0, 1), (0, 8, 1)], w=[1.0, -1.0, 1.0])
    rast = rasterize(screen, torch.tensor([[0, 1, 2]]), (8, 8))
    assert (rast.triangle_id < 0).all()


def _random_pixels(seed=0):
    generator = torch.Generator().manual_seed(seed)
    screen = torch.rand(2, 6, 4, generator=generator, dtype=torch.float64) * 10
    screen[..., 3] = torch.rand(2, 6, generator=generator, dtype=torch.float64) + 0.5
    corners = torch.tensor([[0, 1, 2], [3, 4, 5], [0, 2, 5], [1, 3, 4]])
    batch = torch.tensor([0, 1, 1, 0])
    centres = torch.rand(4, 2, generator=generator, dtype=torch.float64) * 10
    return screen.requires_grad_(True), corners, batch, centres


def test_compiled_barycentrics_equal_the_pytorch_reference_with_gradients():
    screen, corners, batch, centres = _random_pixels()
    flat = corners + batch[:, None] * screen.shape[1]
    reference = perspective_barycentric(screen, corners, batch, centres)
    compiled = PixelBarycentric.apply(screen.reshape(-1, 4), flat, centres)
    torch.testing.assert_close(compiled, reference)
    torch.testing.assert_close(reference.sum(-1), torch.ones(4, dtype=torch.float64))
    weights = torch.randn(4, 3, dtype=torch.float64)
    (g_ref,) = torch.autograd.grad((reference * weights).sum(), screen)
    (g_cmp,) = torch.autograd.grad((compiled * weights).sum(), screen)
    torch.testing.assert_close(g_cmp, g_ref)
    assert torch.autograd.gradcheck(lambda s: PixelBarycentric.apply(s.reshape(-1, 4), flat, centres), (screen,))


def test_interpolation_gradcheck_and_reference():
    generator = torch.Generator().manual_seed(1)
    attributes = torch.rand(7, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    corners = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 0, 3]])
    bary = torch.rand(3, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(PixelInterpolate.apply(attributes, corners, bary),
                               (attributes[corners] * bary[..., None]).sum(1))
    assert torch.autograd.gradcheck(PixelInterpolate.apply, (attributes, corners, bary))


def test_interpolate_through_rasterization_gradcheck():
    triangles = torch.tensor([[0, 1, 2]])
    base = _screen([(0.7, 0.4, 1), (7.3, 1.2, 1), (2.1, 7.6, 1)], w=[1.0, 2.0, 1.5])
    colours = torch.rand(3, 2, dtype=torch.float64, requires_grad=True)

    def render(xy, colours):
        screen = torch.cat([xy, base[..., 2:]], -1)
        return interpolate(colours, rasterize(screen, triangles, (8, 8)), triangles)

    xy = base[..., :2].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(render, (xy, colours))


def test_perspective_correct_interpolation_is_exact_for_a_plane():
    # A plane in camera space: an attribute equal to camera-space z interpolates exactly.
    cam = torch.tensor([[[-1.0, -1.0, -4.0], [1.0, -1.0, -8.0], [0.0, 1.0, -6.0]]], dtype=torch.float64)
    focal, principal = torch.tensor([20.0], dtype=torch.float64), torch.tensor([[16.0, 16.0]], dtype=torch.float64)
    screen = perspective(cam, focal, principal)
    triangles = torch.tensor([[0, 1, 2]])
    rast = rasterize(screen, triangles, (32, 32))
    z = interpolate(cam[0, :, 2:], rast, triangles)[:, 0]
    # Recover z from each pixel's ray: x_pix = cx + f X / -Z on the plane a X + b Y + c Z = d.
    normal = torch.linalg.cross(cam[0, 1] - cam[0, 0], cam[0, 2] - cam[0, 0])
    d = normal @ cam[0, 0]
    col = (rast.pixels % 32).double() + 0.5
    row = (rast.pixels // 32).double() + 0.5
    ray = torch.stack([(col - 16) / 20, -(row - 16) / 20, -torch.ones_like(col)], -1)  # point at Z=-1
    expected = -d / (ray @ normal)
    torch.testing.assert_close(z, expected, atol=1e-9, rtol=1e-9)


def test_antialiasing_gives_box_filter_coverage_at_an_edge():
    # A big triangle whose right edge is the vertical line x = 4.3: pixel column 4 spans [4, 5] and is
    # covered over [4, 4.3], so its antialiased alpha is 0.3.
    triangles = torch.tensor([[0, 1, 2]])
    screen = _screen([(-20, -20, 1), (4.3, -20, 1), (4.3, 40, 1)])
    rast = rasterize(screen, triangles, (8, 8))
    alpha = antialias(rast.mask, rast, screen, triangles, torch.from_numpy(edge_neighbours(triangles.numpy())))
    assert alpha[0, 4, 4, 0].item() == pytest.approx(0.3)
    assert alpha[0, 4, 3, 0].item() == pytest.approx(1.0)
    assert alpha[0, 4, 5, 0].item() == 0.0


def test_antialiasing_gradcheck_on_positions_and_colours():
    triangles = torch.tensor([[0, 1, 2]])
    neighbours = torch.from_numpy(edge_neighbours(triangles.numpy()))
    depth = torch.ones(1, 3, 2, dtype=torch.float64)
    xy0 = torch.tensor([[[1.3, 1.1], [7.2, 2.4], [2.6, 6.8]]], dtype=torch.float64)
    colour = torch.rand(1, 8, 8, 2, dtype=torch.float64)

    def render(xy, colour):
        screen = torch.cat([xy, depth], -1)
        rast = rasterize(screen, triangles, (8, 8))
        return antialias(colour * rast.mask, rast, screen, triangles, neighbours)

    assert torch.autograd.gradcheck(render, (xy0.clone().requires_grad_(True), colour.requires_grad_(True)))


def test_edge_neighbours_of_a_strip():
    triangles = np.array([[0, 1, 2], [2, 1, 3]])
    neighbours = edge_neighbours(triangles)
    # Edge opposite corner 0 of triangle 0 is (1, 2), shared with triangle 1 (opposite its corner 2).
    assert neighbours[0].tolist() == [1, -1, -1] and neighbours[1].tolist() == [-1, -1, 0]


def test_sh_basis_known_values_and_shading_gradcheck():
    up = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    basis = sh_basis(up)[0]
    assert basis[0].item() == pytest.approx(1 / np.sqrt(4 * np.pi))
    assert basis[3].item() == pytest.approx((2 * np.pi / 3) * np.sqrt(3 / (4 * np.pi)))
    assert basis[1].item() == basis[2].item() == basis[4].item() == 0
    normals = torch.nn.functional.normalize(torch.randn(1, 5, 3, dtype=torch.float64), dim=-1).requires_grad_(True)
    light = torch.randn(1, 9, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(sh_shading, (normals, light))


def test_vertex_normals_of_a_flat_square_and_gradients():
    vertices = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]], dtype=torch.float64)
    normals = VertexNormals(torch.tensor([[0, 1, 2], [0, 2, 3]]), 4)
    torch.testing.assert_close(normals(vertices)[0], torch.tensor([[0.0, 0, 1]] * 4, dtype=torch.float64))
    bent = vertices.clone()
    bent[0, 2, 2] = 0.3
    assert torch.autograd.gradcheck(normals, (bent.requires_grad_(True),))


def test_compiled_vertex_normals_equal_the_sparse_reference():
    triangles = torch.tensor([[0, 1, 2], [0, 2, 3], [1, 4, 2], [3, 2, 4]])
    vertices = torch.randn(2, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    normals = VertexNormals(triangles, 5)
    compiled_in = vertices.clone().requires_grad_(True)
    reference_in = vertices.clone().requires_grad_(True)
    torch.testing.assert_close(normals(compiled_in), normals.reference(reference_in))
    weights = torch.randn(2, 5, 3, dtype=torch.float64)
    (normals(compiled_in) * weights).sum().backward()
    (normals.reference(reference_in) * weights).sum().backward()
    torch.testing.assert_close(compiled_in.grad, reference_in.grad)


def test_cameras_known_answers():
    point = torch.tensor([[[1.0, 1.0, 2.0]]])
    weak = weak_perspective(point, torch.tensor([0.5]), torch.zeros(1, 2), (100, 100))
    torch.testing.assert_close(weak[0, 0], torch.tensor([75.0, 25.0, -1.0, 1.0]))
    cam = torch.tensor([[[1.0, 1.0, -10.0]]])
    persp = perspective(cam, torch.tensor([100.0]), torch.tensor([[50.0, 50.0]]))
    torch.testing.assert_close(persp[0, 0], torch.tensor([60.0, 40.0, -0.1, 10.0]))


def test_face_render_outline_gradients_reach_vertices(ict_model):
    renderer = Renderer(ict_model.triangles, config=RendererConfig(image_size=(64, 64)))
    params = ict_model.neutral_parameters(1)
    vertices = ict_model(**params).vertices.detach().requires_grad_(True)
    screen = weak_perspective(vertices, torch.tensor([0.05]), torch.zeros(1, 2), (64, 64))
    out = renderer(vertices, screen, torch.full((ict_model.n_vertices, 3), 0.5), torch.zeros(1, 9, 3))
    out.alpha.sum().backward()
    # Only coverage at the outline depends on positions here: those vertices get x/y gradients.
    moved = vertices.grad[0, :, :2].abs().sum(-1) > 0
    assert 10 < moved.sum() < ict_model.n_vertices // 4
    assert out.image.shape == (1, 3, 64, 64) and out.alpha.max() <= 1 + 1e-6


def test_geometry_view_shaded_per_vertex_is_the_per_pixel_render_within_a_grey_level(ict_model):
    from emoca.render.shading import default_light

    size = (160, 160)
    renderer = Renderer(ict_model.triangles, config=RendererConfig(image_size=size))
    params = ict_model.neutral_parameters(1)
    params["rotation"][:, 1] = 0.4  # turned: the shading varies across the face
    vertices = ict_model(**params).vertices
    screen = weak_perspective(vertices, torch.tensor([0.07]), torch.zeros(1, 2), size)
    image, alpha = renderer.geometry(vertices, screen)
    grey = torch.full((ict_model.n_vertices, 3), renderer.config.geometry_albedo)
    per_pixel = renderer(vertices, screen, grey, default_light(1))
    covered = per_pixel.alpha[0, 0] == 1
    difference = (image - per_pixel.image)[0].abs()[:, covered] * 255
    assert torch.equal(alpha, per_pixel.alpha) and covered.float().mean() > 0.2
    assert difference.mean() < 0.5 and difference.max() < 16 and image[0, :, covered].std() > 0.05


def test_texture_albedo_is_sampled_through_the_uvs(ict_model):
    renderer = Renderer(ict_model.triangles, ict_model.triangles_uv, ict_model.uv, RendererConfig(image_size=(48, 48)))
    vertices = ict_model(**ict_model.neutral_parameters(1)).vertices
    screen = weak_perspective(vertices, torch.tensor([0.05]), torch.zeros(1, 2), (48, 48))
    texture = torch.zeros(1, 3, 8, 8)
    texture[:, 1] = 1.0  # pure green
    light = torch.zeros(1, 9, 3)
    light[:, 0] = 1 / sh_basis(torch.tensor([[0.0, 0, 1]]))[0, 0]  # irradiance 1 everywhere
    out = renderer(vertices, screen, texture, light)
    covered = out.rasterization.mask[0, ..., 0] > 0
    assert torch.allclose(out.albedo[0, 1][covered], torch.ones(())) and out.albedo[0, 0].abs().max() == 0


@pytest.mark.gpu
def test_nvdiffrast_backend_agrees_with_the_cpu_pass(ict_model):
    from emoca.render import nvdiffrast_backend

    if not nvdiffrast_backend.available():
        pytest.skip("needs CUDA and the optional nvdiffrast extra")
    vertices = ict_model(**ict_model.neutral_parameters(4)).vertices
    vertices = vertices + torch.randn(4, 1, 3)
    screen = weak_perspective(vertices, torch.full((4,), 0.05), torch.zeros(4, 2), (224, 224))
    cpu = rasterize(screen, ict_model.triangles, (224, 224))
    gpu = rasterize(screen.cuda(), ict_model.triangles.cuda(), (224, 224))
    coverage_agree = ((cpu.triangle_id >= 0) == (gpu.triangle_id.cpu() >= 0)).double().mean()
    assert coverage_agree >= 0.999
    normals = VertexNormals(ict_model.triangles, ict_model.n_vertices)(vertices)
    a = cpu.to_image(interpolate(normals, cpu, ict_model.triangles))
    b = gpu.to_image(interpolate(normals.cuda(), gpu, ict_model.triangles.cuda())).cpu()
    both = (cpu.triangle_id == gpu.triangle_id.cpu())
    assert (a - b)[both].abs().max() <= 1e-4


def test_sparse_linear_map_is_the_dense_product_and_its_gradient():
    rows, cols = torch.tensor([0, 2, 2, 1, 0]), torch.tensor([1, 0, 0, 3, 1])  # (0, 1) and (2, 0) repeat: they add
    values = torch.tensor([0.5, -1.0, 2.0, 3.0, 0.25], dtype=torch.float64)
    dense_matrix = torch.zeros(3, 4, dtype=torch.float64)
    dense_matrix.index_put_((rows, cols), values, accumulate=True)
    linear = SparseLinearMap(rows, cols, values, (3, 4))
    x = torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    torch.testing.assert_close(linear(x), dense_matrix @ x)
    assert torch.autograd.gradcheck(linear, (x,))
    assert linear.float()(x.float().detach()).dtype == torch.float32
