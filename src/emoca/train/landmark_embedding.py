"""Where MediaPipe's 478 points and the 68 iBUG points sit on the ICT mesh, learned from renders.

    python -m emoca.train.landmark_embedding [--renders 120] [--seed 0]

1. Render the ICT model with random identities, expressions and head poses (seeded), skin-coloured
   with darker eyeballs, under the default light.
2. Run our landmark pipeline (`emoca.detect`) on each render. Each detected point hits a pixel whose
   triangle the rasterizer knows; its barycentrics there give the point's place on the mesh.
3. Carry every hit to the neutral face (same triangle, same barycentrics), take the per-point median
   over renders and snap it to the nearest surface point (trimesh). The 68-point jawline (0-16) is a
   silhouette that slides with the head turn: it uses only near-frontal renders (|yaw| < 0.15 rad).
   Inner-lip points are ambiguous on a closed mouth (upper and lower meet on one line): MediaPipe's use
   only the open-mouth renders; the 68-point inner lips (60-67), which the detector rarely places on
   the lips of an open render mouth (no mouth interior is drawn), take ICT-FaceKit's own authored
   landmark vertices instead.
4. Save corner vertex ids (of the full ICT model, so any region choice can use them) and
   barycentrics to `facemodel/data/ict_landmark_embedding.npz`, with each point's spread (cm).

The shipped file's 68-point places 17-67 were then refined from annotated photos by
`python -m emoca.train.ibug_embedding` (run it again after re-running this).
"""

import argparse
from pathlib import Path

import numpy as np
import torch
import trimesh

from emoca.detect.pipeline import FaceLandmarker
from emoca.facemodel.face_regions import eye_masks
from emoca.facemodel.ict import LANDMARK_EMBEDDING, LANDMARK_VERTICES, ICTFaceModel
from emoca.io.atomic import atomic_path
from emoca.render.camera import weak_perspective
from emoca.render.renderer import Renderer, RendererConfig
from emoca.render.shading import default_light

EMBEDDING = LANDMARK_EMBEDDING
SIZE = 512
FRONTAL_YAW = 0.15
IBUG_INNER_LIPS = frozenset(range(60, 68))
SKIN, SCLERA, IRIS = (0.78, 0.6, 0.5), (0.85, 0.83, 0.8), (0.2, 0.14, 0.1)


def _random_faces(model: ICTFaceModel, count: int, generator: torch.Generator) -> tuple[dict, torch.Tensor]:
    params = model.neutral_parameters(count)
    params["identity"] = torch.randn(count, model.n_identity, generator=generator) * 0.8
    expression = torch.rand(count, len(model.expression_names), generator=generator) * 0.6
    expression *= torch.rand(count, len(model.expression_names), generator=generator) < 0.12  # a few shapes each
    expression[: count // 3] = 0  # a third neutral
    open_mouth = torch.arange(count) >= 2 * count // 3  # a third with the jaw open
    expression[open_mouth, model.expression_index("jawOpen")] = 0.3 + 0.3 * torch.rand(int(open_mouth.sum()),
                                                                                        generator=generator)
    params["expression"] = expression
    yaw = (torch.rand(count, generator=generator) - 0.5) * 1.0
    yaw[: count // 2] *= 0.25  # half near-frontal, for the jawline
    params["rotation"] = torch.stack([(torch.rand(count, generator=generator) - 0.5) * 0.4, yaw,
                                      (torch.rand(count, generator=generator) - 0.5) * 0.2], -1)
    return params, yaw, open_mouth


def mediapipe_inner_lips() -> frozenset[int]:
    """MediaPipe's inner-lip points: of the two loops in its lip connections, the one nearer the centre
    (fewer points far from it: the inner loop holds 13 and 14, the lip-contact midpoints)."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_LIPS

    loops: list[set[int]] = []
    for a, b in FACEMESH_LIPS:
        touching = [loop for loop in loops if a in loop or b in loop]
        merged = set().union({a, b}, *touching)
        loops = [loop for loop in loops if loop not in touching] + [merged]
    return frozenset(next(loop for loop in loops if 13 in loop))


def eye_albedo(model: ICTFaceModel) -> torch.Tensor:
    """(V, 3) albedo: skin, and eyeballs with a white sclera and a dark iris facing +z."""
    albedo = torch.tensor(SKIN).repeat(model.n_vertices, 1)
    sclera, iris = eye_masks(model)
    albedo[sclera], albedo[iris] = torch.tensor(SCLERA), torch.tensor(IRIS)
    return albedo


def surface_hits(points: np.ndarray, ids: np.ndarray, screen: np.ndarray, vertices: np.ndarray,
                 triangles: np.ndarray) -> list:
    """(triangle, barycentric) under each (N, 2) pixel-index point of a render, or None off the mesh or
    on a triangle seen from behind (the head's inside, visible through an open mouth).

    ids: (H, W) the rasterizer's triangle per pixel (-1 empty). screen: (V, 4) the render's screen
    vertices. vertices: (V, 3) posed, +z towards the camera. triangles: (F, 3).
    """
    out = []
    height, width = ids.shape
    corners3d = vertices[triangles]
    facing = np.cross(corners3d[:, 1] - corners3d[:, 0], corners3d[:, 2] - corners3d[:, 0])[:, 2] > 0  # +z to camera
    for x, y in points:
        col, row = int(round(x)), int(round(y))
        if not (0 <= row < height and 0 <= col < width) or ids[row, col] < 0 or not facing[ids[row, col]]:
            out.append(None)
            continue
        tri = ids[row, col]
        corners = screen[triangles[tri], :2]
        # Points are in pixel-index coordinates; the screen has pixel centres at +0.5.
        bary = trimesh.triangles.points_to_barycentric(corners[None], np.array([[x + 0.5, y + 0.5]]))[0]
        out.append((tri, np.clip(bary, 0, None) / np.clip(bary, 0, None).sum()))
    return out


def snap_to_surface(model: ICTFaceModel, mesh: trimesh.Trimesh, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) points near the neutral render mesh `mesh` -> (N, 3) corner ids of the full ICT model and
    (N, 3) barycentrics of the nearest surface points."""
    closest, _, tri_ids = trimesh.proximity.closest_point(mesh, points)
    triangles = model.triangles.numpy()[tri_ids]
    bary = trimesh.triangles.points_to_barycentric(model.template.numpy()[triangles], closest)
    return model.vertex_ids.numpy()[triangles], bary


def learn(renders: int, seed: int) -> dict[str, np.ndarray]:
    model = ICTFaceModel()
    landmarker = FaceLandmarker()
    renderer = Renderer(model.triangles, config=RendererConfig(image_size=(SIZE, SIZE)))
    triangles = model.triangles.numpy()
    albedo = eye_albedo(model)
    neutral = model.template.numpy()
    params, yaws, open_mouth = _random_faces(model, renders, torch.Generator().manual_seed(seed))
    inner_lips = {"dense": mediapipe_inner_lips(), "ibug": IBUG_INNER_LIPS}  # ibug's: authored vertices
    samples = {"dense": [[] for _ in range(478)], "ibug": [[] for _ in range(68)]}
    found = 0
    for i in range(renders):
        with torch.no_grad():
            face = model(**{k: v[i:i + 1] for k, v in params.items()})
            screen = weak_perspective(face.vertices, torch.tensor([1.75 / 34.0 * 1.3]), torch.tensor([[0.0, 0.1]]),
                                      (SIZE, SIZE))
            out = renderer(face.vertices, screen, albedo, default_light(1))
        image = (out.image[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
        faces = landmarker(image)
        if not faces:
            continue
        found += 1
        for key, points in (("dense", faces[0].dense[:, :2]), ("ibug", faces[0].landmarks_68)):
            hits = surface_hits(points, out.rasterization.triangle_id[0].numpy(), screen[0].numpy(),
                                face.vertices[0].numpy(), triangles)
            for p, hit in enumerate(hits):
                if hit is None or (key == "ibug" and p <= 16 and abs(float(yaws[i])) > FRONTAL_YAW):
                    continue
                if p in inner_lips[key] and (key == "ibug" or not open_mouth[i]):
                    continue
                tri, bary = hit
                samples[key][p].append(bary @ neutral[triangles[tri]])
    print(f"landmarks found on {found}/{renders} renders")
    mesh = trimesh.Trimesh(neutral, triangles, process=False)
    result = {}
    for key, per_point in samples.items():
        if key == "ibug":  # placeholders for the authored inner-lip vertices set below
            for p in IBUG_INNER_LIPS:
                per_point[p] = [neutral[0]]
        medians = np.array([np.median(s, 0) if s else np.full(3, np.nan) for s in per_point])
        if np.isnan(medians).any():
            raise RuntimeError(f"{key}: points {np.flatnonzero(np.isnan(medians[:, 0]))} never hit the mesh")
        corners, bary = snap_to_surface(model, mesh, medians)
        spread = np.array([np.median(np.linalg.norm(np.asarray(s) - m, axis=1)) for s, m in zip(per_point, medians,
                                                                                              strict=True)])
        if key == "ibug":
            inner = sorted(IBUG_INNER_LIPS)
            corners[inner] = np.asarray(LANDMARK_VERTICES)[inner, None]
            bary[inner] = (1.0, 0.0, 0.0)
        result[f"{key}_corners"] = corners
        result[f"{key}_barycentric"] = bary.astype(np.float32)
        result[f"{key}_spread_cm"] = spread.astype(np.float32)
        result[f"{key}_samples"] = np.array([len(s) for s in per_point])
        print(f"{key}: median samples per point {np.median(result[f'{key}_samples']):.0f}, "
              f"median spread {10 * np.median(spread):.2f} mm")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--renders", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=EMBEDDING)
    args = parser.parse_args(argv)
    result = learn(args.renders, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **result)


if __name__ == "__main__":
    main()
