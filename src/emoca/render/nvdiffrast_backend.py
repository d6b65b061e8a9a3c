"""Visibility on CUDA with nvdiffrast (optional extra `emoca[cuda]`: diffrp-nvdiffrast, NVIDIA's
non-commercial source licence, JIT-compiled on first use). Only the visibility pass comes from it:
barycentrics, interpolation, shading and antialiasing stay the shared PyTorch code, so both backends
differ only in which triangle a pixel sees.
"""

import functools

import torch


@functools.cache
def available() -> bool:
    """True when nvdiffrast imports and a CUDA device is present."""
    if not torch.cuda.is_available():
        return False
    try:
        import nvdiffrast.torch  # noqa: F401
    except Exception:  # noqa: BLE001 - a missing or broken optional extra just means "not available"
        return False
    return True


@functools.cache
def _context(device_index: int):
    import nvdiffrast.torch as dr

    return dr.RasterizeCudaContext(device=torch.device("cuda", device_index))


def visibility(screen: torch.Tensor, triangles: torch.Tensor, height: int, width: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Same contract as `visibility_cpu.rasterize_cpu`, on CUDA tensors.

    Our screen vertices [x, y, depth, w] become clip coordinates: x and y in pixels map to NDC so that
    nvdiffrast's row i is our row i; depth (linear in screen space) is scaled per image into
    (-1, 1) and multiplied by w like a clip-space z.
    """
    import nvdiffrast.torch as dr

    x, y, depth, w = screen.detach().float().unbind(-1)
    valid = w > 0
    low = torch.where(valid, depth, torch.full_like(depth, float("inf"))).amin(1, keepdim=True)
    high = torch.where(valid, depth, torch.full_like(depth, -float("inf"))).amax(1, keepdim=True)
    z_ndc = (depth - low) / (high - low).clamp(min=1e-12) * 1.8 - 0.9
    w_safe = torch.where(valid, w, torch.full_like(w, -1.0))  # behind the camera: clipped away
    clip = torch.stack([(2 * x / width - 1) * w_safe, (2 * y / height - 1) * w_safe, z_ndc * w_safe, w_safe], -1)
    rast, _ = dr.rasterize(_context(screen.device.index or 0), clip.contiguous(), triangles.int().contiguous(),
                           resolution=[height, width])
    triangle_id = rast[..., 3].long() - 1
    covered = triangle_id >= 0
    depth_out = torch.where(covered, (rast[..., 2] + 0.9) / 1.8 * (high - low)[..., None] + low[..., None],
                            torch.full_like(rast[..., 2], float("inf")))
    return triangle_id, depth_out.to(screen.dtype)
