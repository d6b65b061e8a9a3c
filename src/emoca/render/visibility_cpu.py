"""The CPU visibility pass: per pixel, the nearest triangle. Compiled with numba; no gradients here.

Coverage rule: a pixel belongs to a triangle when its centre lies inside; a centre exactly on an edge
goes to one side only (the top-left rule), so meshes render without cracks or double cover.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
import torch


@contextmanager
def torch_threads() -> Iterator[int]:
    """Run numba's parallel loops on torch's thread count (what `--threads` set), and keep that count:
    numba's OpenMP layer sets the process-wide OpenMP count to its own at each parallel launch, which
    raised torch's from 1 to the machine's cores after the first render (and changed later results in
    their last bits). Yields the count."""
    count = torch.get_num_threads()
    numba.set_num_threads(max(1, min(count, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield numba.get_num_threads()
    finally:
        if torch.get_num_threads() != count:
            torch.set_num_threads(count)


@numba.njit(cache=True, inline="always")
def _owns_edge(ax: float, ay: float, bx: float, by: float, orientation: float) -> bool:
    """Top-left rule for the edge a->b of a triangle whose signed area has sign `orientation`."""
    dx = (bx - ax) * orientation
    dy = (by - ay) * orientation
    return dy > 0 or (dy == 0 and dx < 0)


@numba.njit(cache=True)
def _rasterize_range(screen, triangles, first, last, height, width, triangle_id, depth):  # pragma: no cover
    for f in range(first, last):
        i0, i1, i2 = triangles[f, 0], triangles[f, 1], triangles[f, 2]
        if screen[i0, 3] <= 0 or screen[i1, 3] <= 0 or screen[i2, 3] <= 0:
            continue
        x0, y0, z0 = screen[i0, 0], screen[i0, 1], screen[i0, 2]
        x1, y1, z1 = screen[i1, 0], screen[i1, 1], screen[i1, 2]
        x2, y2, z2 = screen[i2, 0], screen[i2, 1], screen[i2, 2]
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if area == 0 or not np.isfinite(area):
            continue
        orientation = 1.0 if area > 0 else -1.0
        col_min = max(int(np.ceil(min(x0, x1, x2) - 0.5)), 0)
        col_max = min(int(np.floor(max(x0, x1, x2) - 0.5)), width - 1)
        row_min = max(int(np.ceil(min(y0, y1, y2) - 0.5)), 0)
        row_max = min(int(np.floor(max(y0, y1, y2) - 0.5)), height - 1)
        own0 = _owns_edge(x1, y1, x2, y2, orientation)
        own1 = _owns_edge(x2, y2, x0, y0, orientation)
        own2 = _owns_edge(x0, y0, x1, y1, orientation)
        inv_area = 1.0 / area
        for row in range(row_min, row_max + 1):
            cy = row + 0.5
            for col in range(col_min, col_max + 1):
                cx = col + 0.5
                b0 = ((x2 - x1) * (cy - y1) - (y2 - y1) * (cx - x1)) * inv_area
                b1 = ((x0 - x2) * (cy - y2) - (y0 - y2) * (cx - x2)) * inv_area
                b2 = ((x1 - x0) * (cy - y0) - (y1 - y0) * (cx - x0)) * inv_area
                if b0 < 0 or b1 < 0 or b2 < 0:
                    continue
                if (b0 == 0 and not own0) or (b1 == 0 and not own1) or (b2 == 0 and not own2):
                    continue
                z = b0 * z0 + b1 * z1 + b2 * z2
                if z < depth[row, col]:
                    depth[row, col] = z
                    triangle_id[row, col] = f


@numba.njit(cache=True, parallel=True)
def _rasterize_batch(screen, triangles, height, width, triangle_id, depth):  # pragma: no cover - compiled
    for b in numba.prange(screen.shape[0]):
        _rasterize_range(screen[b], triangles, 0, triangles.shape[0], height, width, triangle_id[b], depth[b])


@numba.njit(cache=True, parallel=True)
def _rasterize_split(screen, triangles, n_chunks, height, width, triangle_id, depth):  # pragma: no cover
    """One image, its triangles split across threads into private buffers, merged nearest-first."""
    n_tri = triangles.shape[0]
    ids = np.full((n_chunks, height, width), -1, np.int64)
    depths = np.full((n_chunks, height, width), np.inf)
    for c in numba.prange(n_chunks):
        _rasterize_range(screen, triangles, c * n_tri // n_chunks, (c + 1) * n_tri // n_chunks,
                         height, width, ids[c], depths[c])
    for row in numba.prange(height):
        for col in range(width):
            for c in range(n_chunks):
                if depths[c, row, col] < depth[row, col]:
                    depth[row, col] = depths[c, row, col]
                    triangle_id[row, col] = ids[c, row, col]


def rasterize_cpu(screen: np.ndarray, triangles: np.ndarray, height: int, width: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Visibility of a batch of meshes.

    Args:
        screen: (B, V, 4) float screen vertices [x, y, depth, w] (see `emoca.render.camera`).
        triangles: (F, 3) integer vertex indices.
        height, width: image size in pixels.
    Returns:
        triangle_id (B, H, W) int64, -1 where nothing is drawn; depth (B, H, W) float64, inf there.
        Equal depths resolve to the lower triangle id.
    """
    screen = np.ascontiguousarray(screen, dtype=np.float64)
    triangles = np.ascontiguousarray(triangles, dtype=np.int64)
    batch = screen.shape[0]
    triangle_id = np.full((batch, height, width), -1, np.int64)
    depth = np.full((batch, height, width), np.inf, np.float64)
    with torch_threads() as threads:
        if batch == 1 and threads > 1:
            _rasterize_split(screen[0], triangles, threads, height, width, triangle_id[0], depth[0])
        else:
            _rasterize_batch(screen, triangles, height, width, triangle_id, depth)
    return triangle_id, depth


@numba.njit(cache=True)
def _covered(triangle_id, triangles, height, width, pixels, faces, batch, corners, centres):  # pragma: no cover
    n = 0
    for p in range(triangle_id.shape[0]):
        f = triangle_id[p]
        if f < 0:
            continue
        b = p // (height * width)
        pixels[n], faces[n], batch[n] = p, f, b
        for k in range(3):
            corners[n, k] = triangles[f, k]
        centres[n, 0] = p % width + 0.5
        centres[n, 1] = (p // width) % height + 0.5
        n += 1


def covered_pixels(triangle_id: np.ndarray, triangles: np.ndarray, dtype: np.dtype
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The covered pixels of a visibility pass, in one sweep.

    Args:
        triangle_id: (B, H, W) int64 from `rasterize_cpu`.
        triangles: (F, 3) integer vertex indices.
        dtype: float type of the pixel centres.
    Returns:
        pixels (N,) flat indices into B*H*W, batch-major; their triangle ids (N,); batch items (N,);
        corner vertex ids (N, 3); pixel-centre coordinates (N, 2) as (x, y) in pixels.
    """
    _, height, width = triangle_id.shape
    n = int(np.count_nonzero(triangle_id >= 0))
    pixels, faces, batch = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    corners, centres = np.empty((n, 3), np.int64), np.empty((n, 2), dtype)
    _covered(triangle_id.reshape(-1), np.ascontiguousarray(triangles, dtype=np.int64), height, width,
             pixels, faces, batch, corners, centres)
    return pixels, faces, batch, corners, centres


@numba.njit(cache=True)
def linear_barycentric(screen, i0, i1, i2, x, y):  # pragma: no cover - compiled
    """Screen-space barycentrics of point (x, y) in triangle (i0, i1, i2), and its signed area."""
    x0, y0, x1, y1, x2, y2 = screen[i0, 0], screen[i0, 1], screen[i1, 0], screen[i1, 1], screen[i2, 0], screen[i2, 1]
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    b0 = ((x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)) / area
    b1 = ((x0 - x2) * (y - y2) - (y0 - y2) * (x - x2)) / area
    return b0, b1, 1.0 - b0 - b1, area


@numba.njit(cache=True)
def _facing(screen, triangles, f):  # pragma: no cover - compiled
    i0, i1, i2 = triangles[f, 0], triangles[f, 1], triangles[f, 2]
    area = ((screen[i1, 0] - screen[i0, 0]) * (screen[i2, 1] - screen[i0, 1])
            - (screen[i1, 1] - screen[i0, 1]) * (screen[i2, 0] - screen[i0, 0]))
    return area > 0


@numba.njit(cache=True, parallel=True)
def _silhouette_pairs(screen, triangles, neighbours, triangle_id, depth, out, counts):  # pragma: no cover
    batch, height, width = triangle_id.shape
    n_tri = triangles.shape[0]
    for b in numba.prange(batch):
        facing = np.empty(n_tri, np.bool_)
        for f in range(n_tri):
            facing[f] = _facing(screen[b], triangles, f)
        on_silhouette = np.zeros(n_tri, np.bool_)  # has an edge that can be a silhouette in this view
        for f in range(n_tri):
            for k in range(3):
                other = neighbours[f, k]
                if other < 0 or facing[other] != facing[f]:
                    on_silhouette[f] = True
        n = 0
        for row in range(height):
            for col in range(width):
                for direction in range(2):
                    row_q, col_q = (row, col + 1) if direction == 0 else (row + 1, col)
                    if row_q >= height or col_q >= width:
                        continue
                    id_p, id_q = triangle_id[b, row, col], triangle_id[b, row_q, col_q]
                    if id_p == id_q:
                        continue
                    front, back = (row * width + col, row_q * width + col_q)
                    tri = id_p
                    if depth[b, row_q, col_q] < depth[b, row, col]:
                        front, back, tri = back, front, id_q
                    if not on_silhouette[tri]:
                        continue
                    i0, i1, i2 = triangles[tri, 0], triangles[tri, 1], triangles[tri, 2]
                    fx, fy = front % width + 0.5, front // width + 0.5
                    bx, by = back % width + 0.5, back // width + 0.5
                    p0, p1, p2, _ = linear_barycentric(screen[b], i0, i1, i2, fx, fy)
                    q0, q1, q2, _ = linear_barycentric(screen[b], i0, i1, i2, bx, by)
                    best, edge = np.inf, -1
                    for k, pk, qk in ((0, p0, q0), (1, p1, q1), (2, p2, q2)):
                        if qk < 0:
                            t = pk / (pk - qk)
                            if t < best:
                                best, edge = t, k
                    if edge < 0:
                        continue
                    other = neighbours[tri, edge]
                    if other >= 0 and facing[other] == facing[tri]:
                        continue
                    out[b, n, 0], out[b, n, 1], out[b, n, 2], out[b, n, 3] = front, back, tri, edge
                    n += 1
        counts[b] = n


def silhouette_pairs(screen: np.ndarray, triangles: np.ndarray, neighbours: np.ndarray,
                     triangle_id: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Adjacent pixel pairs whose segment leaves the nearer pixel's triangle through a silhouette edge.

    A silhouette edge is a mesh boundary or an edge whose neighbouring triangle faces the other way
    in this view. Pairs are horizontal (x, x+1) and vertical (y, y+1) neighbours.

    Returns:
        (P, 4) int64 rows [front, back, triangle, edge]: flat pixel indices into B*H*W of the nearer
        and farther pixel, the nearer pixel's triangle, and which edge (opposite that corner) is crossed.
    """
    batch, height, width = triangle_id.shape
    screen = np.ascontiguousarray(screen, dtype=np.float64)
    out = np.empty((batch, 2 * height * width, 4), np.int64)
    counts = np.zeros(batch, np.int64)
    with torch_threads():
        _silhouette_pairs(screen, np.ascontiguousarray(triangles, dtype=np.int64),
                          np.ascontiguousarray(neighbours, dtype=np.int64), triangle_id, depth, out, counts)
    offsets = np.arange(batch)[:, None] * (height * width)
    rows = [out[b, :counts[b]] + np.array([offsets[b, 0], offsets[b, 0], 0, 0]) for b in range(batch)]
    return np.concatenate(rows) if rows else np.empty((0, 4), np.int64)
