"""Compiled CPU kernels, differentiable: perspective-correct barycentrics of pixel centres, and
interpolation of vertex attributes with them.

Same results as the PyTorch reference in `emoca.render.rasterize` (which tests compare against), in one
pass per pixel. Gradients use the closed form for affine barycentrics lambda of a fixed point p:
moving corner j by d changes lambda_i by -lambda_j (grad_p lambda_i . d), and grad_p lambda_i is the
perpendicular of the opposite edge over the signed area.
"""

import numba
import numpy as np
import torch

from emoca.render.visibility_cpu import linear_barycentric


@numba.njit(cache=True)
def _forward(screen, corners, pixel_xy, out_linear, out_perspective):  # pragma: no cover - compiled
    for n in range(corners.shape[0]):
        i0, i1, i2 = corners[n, 0], corners[n, 1], corners[n, 2]
        l0, l1, l2, _ = linear_barycentric(screen, i0, i1, i2, pixel_xy[n, 0], pixel_xy[n, 1])
        u0, u1, u2 = l0 / screen[i0, 3], l1 / screen[i1, 3], l2 / screen[i2, 3]
        total = u0 + u1 + u2
        out_linear[n, 0], out_linear[n, 1], out_linear[n, 2] = l0, l1, l2
        out_perspective[n, 0], out_perspective[n, 1], out_perspective[n, 2] = u0 / total, u1 / total, u2 / total


@numba.njit(cache=True)
def _backward(screen, corners, linear, perspective, grad_out, grad_screen):  # pragma: no cover - compiled
    for n in range(corners.shape[0]):
        idx = (corners[n, 0], corners[n, 1], corners[n, 2])
        x0, y0, x1, y1, x2, y2 = (screen[idx[0], 0], screen[idx[0], 1], screen[idx[1], 0], screen[idx[1], 1],
                                  screen[idx[2], 0], screen[idx[2], 1])
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        l0, l1, l2 = linear[n, 0], linear[n, 1], linear[n, 2]
        w0, w1, w2 = screen[idx[0], 3], screen[idx[1], 3], screen[idx[2], 3]
        total = l0 / w0 + l1 / w1 + l2 / w2
        # Through the perspective normalisation beta_i = u_i / sum(u), u_i = lambda_i / w_i.
        dot = (grad_out[n, 0] * perspective[n, 0] + grad_out[n, 1] * perspective[n, 1]
               + grad_out[n, 2] * perspective[n, 2])
        gu0, gu1, gu2 = (grad_out[n, 0] - dot) / total, (grad_out[n, 1] - dot) / total, (grad_out[n, 2] - dot) / total
        g0, g1, g2 = gu0 / w0, gu1 / w1, gu2 / w2  # gradient with respect to the affine lambdas
        grad_screen[idx[0], 3] -= gu0 * l0 / (w0 * w0)
        grad_screen[idx[1], 3] -= gu1 * l1 / (w1 * w1)
        grad_screen[idx[2], 3] -= gu2 * l2 / (w2 * w2)
        # G = sum_i g_i grad_p(lambda_i); corner j then gets -lambda_j G.
        gx = (-(y2 - y1) * g0 - (y0 - y2) * g1 - (y1 - y0) * g2) / area
        gy = ((x2 - x1) * g0 + (x0 - x2) * g1 + (x1 - x0) * g2) / area
        grad_screen[idx[0], 0] -= l0 * gx
        grad_screen[idx[0], 1] -= l0 * gy
        grad_screen[idx[1], 0] -= l1 * gx
        grad_screen[idx[1], 1] -= l1 * gy
        grad_screen[idx[2], 0] -= l2 * gx
        grad_screen[idx[2], 1] -= l2 * gy


class PixelBarycentric(torch.autograd.Function):
    """(B*V, 4) flat screen vertices, (N, 3) flat corner ids, (N, 2) pixel centres -> (N, 3)."""

    @staticmethod
    def forward(ctx, flat_screen: torch.Tensor, corners: torch.Tensor, pixel_xy: torch.Tensor) -> torch.Tensor:
        screen_np = flat_screen.detach().numpy()
        corners_np = corners.numpy()
        linear = np.empty((len(corners_np), 3), screen_np.dtype)
        perspective = np.empty_like(linear)
        _forward(screen_np, corners_np, pixel_xy.numpy().astype(screen_np.dtype), linear, perspective)
        ctx.save_for_backward(flat_screen, corners)
        ctx.linear, ctx.perspective = linear, perspective
        return torch.from_numpy(perspective)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        flat_screen, corners = ctx.saved_tensors
        grad_screen = np.zeros(flat_screen.shape, flat_screen.detach().numpy().dtype)
        _backward(flat_screen.detach().numpy(), corners.numpy(), ctx.linear, ctx.perspective,
                  np.ascontiguousarray(grad.numpy(), dtype=grad_screen.dtype), grad_screen)
        return torch.from_numpy(grad_screen), None, None


@numba.njit(cache=True)
def _interpolate_forward(attributes, corners, barycentric, out):  # pragma: no cover - compiled
    for n in range(corners.shape[0]):
        for k in range(3):
            weight = barycentric[n, k]
            row = corners[n, k]
            for c in range(attributes.shape[1]):
                out[n, c] += weight * attributes[row, c]


@numba.njit(cache=True)
def _interpolate_backward(attributes, corners, barycentric, grad, grad_attributes,
                          grad_barycentric):  # pragma: no cover - compiled
    for n in range(corners.shape[0]):
        for k in range(3):
            weight = barycentric[n, k]
            row = corners[n, k]
            total = 0.0
            for c in range(attributes.shape[1]):
                grad_attributes[row, c] += weight * grad[n, c]
                total += attributes[row, c] * grad[n, c]
            grad_barycentric[n, k] = total


class PixelInterpolate(torch.autograd.Function):
    """(R, C) attribute rows, (N, 3) row ids of each pixel's corners, (N, 3) barycentrics -> (N, C)."""

    @staticmethod
    def forward(ctx, attributes: torch.Tensor, corners: torch.Tensor, barycentric: torch.Tensor) -> torch.Tensor:
        attributes_np = np.ascontiguousarray(attributes.detach().numpy())
        barycentric_np = np.ascontiguousarray(barycentric.detach().numpy(), dtype=attributes_np.dtype)
        out = np.zeros((corners.shape[0], attributes_np.shape[1]), attributes_np.dtype)
        _interpolate_forward(attributes_np, corners.numpy(), barycentric_np, out)
        ctx.arrays = (attributes_np, corners.numpy(), barycentric_np)
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, torch.Tensor]:
        attributes_np, corners_np, barycentric_np = ctx.arrays
        grad_attributes = np.zeros_like(attributes_np)
        grad_barycentric = np.zeros_like(barycentric_np)
        _interpolate_backward(attributes_np, corners_np, barycentric_np,
                              np.ascontiguousarray(grad.numpy(), dtype=attributes_np.dtype),
                              grad_attributes, grad_barycentric)
        return torch.from_numpy(grad_attributes), None, torch.from_numpy(grad_barycentric)


@numba.njit(cache=True)
def _normals_forward(vertices, triangles, sums, normals):  # pragma: no cover - compiled
    for b in range(vertices.shape[0]):
        for f in range(triangles.shape[0]):
            i0, i1, i2 = triangles[f, 0], triangles[f, 1], triangles[f, 2]
            ax, ay, az = vertices[b, i1, 0] - vertices[b, i0, 0], vertices[b, i1, 1] - vertices[b, i0, 1], \
                vertices[b, i1, 2] - vertices[b, i0, 2]
            bx, by, bz = vertices[b, i2, 0] - vertices[b, i0, 0], vertices[b, i2, 1] - vertices[b, i0, 1], \
                vertices[b, i2, 2] - vertices[b, i0, 2]
            nx, ny, nz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
            for i in (i0, i1, i2):
                sums[b, i, 0] += nx
                sums[b, i, 1] += ny
                sums[b, i, 2] += nz
        for v in range(vertices.shape[1]):
            length = np.sqrt(sums[b, v, 0] ** 2 + sums[b, v, 1] ** 2 + sums[b, v, 2] ** 2)
            if length > 1e-12:
                for c in range(3):
                    normals[b, v, c] = sums[b, v, c] / length


@numba.njit(cache=True)
def _normals_backward(vertices, triangles, sums, normals, grad, grad_vertices):  # pragma: no cover - compiled
    grad_sums = np.zeros((vertices.shape[1], 3), vertices.dtype)
    for b in range(vertices.shape[0]):
        for v in range(vertices.shape[1]):  # through the normalisation n = s / |s|
            length = np.sqrt(sums[b, v, 0] ** 2 + sums[b, v, 1] ** 2 + sums[b, v, 2] ** 2)
            dot = normals[b, v, 0] * grad[b, v, 0] + normals[b, v, 1] * grad[b, v, 1] + normals[b, v, 2] * grad[b, v, 2]
            for c in range(3):
                grad_sums[v, c] = (grad[b, v, c] - normals[b, v, c] * dot) / length if length > 1e-12 else 0.0
        for f in range(triangles.shape[0]):
            i0, i1, i2 = triangles[f, 0], triangles[f, 1], triangles[f, 2]
            gx = grad_sums[i0, 0] + grad_sums[i1, 0] + grad_sums[i2, 0]  # each face normal adds to its corners
            gy = grad_sums[i0, 1] + grad_sums[i1, 1] + grad_sums[i2, 1]
            gz = grad_sums[i0, 2] + grad_sums[i1, 2] + grad_sums[i2, 2]
            ax, ay, az = vertices[b, i1, 0] - vertices[b, i0, 0], vertices[b, i1, 1] - vertices[b, i0, 1], \
                vertices[b, i1, 2] - vertices[b, i0, 2]
            bx, by, bz = vertices[b, i2, 0] - vertices[b, i0, 0], vertices[b, i2, 1] - vertices[b, i0, 1], \
                vertices[b, i2, 2] - vertices[b, i0, 2]
            # n = a x b: dL/da = b x g, dL/db = g x a.
            dax, day, daz = by * gz - bz * gy, bz * gx - bx * gz, bx * gy - by * gx
            dbx, dby, dbz = gy * az - gz * ay, gz * ax - gx * az, gx * ay - gy * ax
            grad_vertices[b, i1, 0] += dax
            grad_vertices[b, i1, 1] += day
            grad_vertices[b, i1, 2] += daz
            grad_vertices[b, i2, 0] += dbx
            grad_vertices[b, i2, 1] += dby
            grad_vertices[b, i2, 2] += dbz
            grad_vertices[b, i0, 0] -= dax + dbx
            grad_vertices[b, i0, 1] -= day + dby
            grad_vertices[b, i0, 2] -= daz + dbz


class VertexNormalsCPU(torch.autograd.Function):
    """Area-weighted unit vertex normals: (B, V, 3) vertices, (F, 3) triangles -> (B, V, 3); the compiled
    twin of `emoca.render.shading.VertexNormals` (the reference, also used on CUDA)."""

    @staticmethod
    def forward(ctx, vertices: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
        v = np.ascontiguousarray(vertices.detach().numpy())
        t = np.ascontiguousarray(triangles.numpy())
        sums = np.zeros_like(v)
        normals = np.zeros_like(v)
        _normals_forward(v, t, sums, normals)
        ctx.arrays = (v, t, sums, normals)
        return torch.from_numpy(normals)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        v, t, sums, normals = ctx.arrays
        grad_vertices = np.zeros_like(v)
        _normals_backward(v, t, sums, normals, np.ascontiguousarray(grad.numpy(), dtype=v.dtype), grad_vertices)
        return torch.from_numpy(grad_vertices), None
