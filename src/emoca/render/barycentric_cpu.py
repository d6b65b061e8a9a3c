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


@numba.njit(cache=True)
def _forward(screen, corners, pixel_xy, out_linear, out_perspective):  # pragma: no cover - compiled
    for n in range(corners.shape[0]):
        i0, i1, i2 = corners[n, 0], corners[n, 1], corners[n, 2]
        x0, y0, x1, y1 = screen[i0, 0], screen[i0, 1], screen[i1, 0], screen[i1, 1]
        x2, y2 = screen[i2, 0], screen[i2, 1]
        px, py = pixel_xy[n, 0], pixel_xy[n, 1]
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        l0 = ((x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)) / area
        l1 = ((x0 - x2) * (py - y2) - (y0 - y2) * (px - x2)) / area
        l2 = 1.0 - l0 - l1
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
