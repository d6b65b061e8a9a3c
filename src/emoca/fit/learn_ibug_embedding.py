"""Refine where the 68 iBUG points sit on the ICT mesh from annotated photos (HELEN trainset).

    python -m emoca.fit.learn_ibug_embedding [--every 8] [--keep-inner-lips]

`emoca.facemodel.learn_embedding` places the points where our detector sees them on renders of a
brow-less, untextured head; on real faces people (and detectors trained on their annotations) put
brows, lids and lips a little elsewhere. This step learns the places from photos:

1. fit every trainset photo with the current embedding (detected landmarks only, never the
   annotations: `emoca.fit.photo`);
2. render the fit's triangle ids on its crop; each annotated point hits a front-facing triangle, and its
   barycentrics there carry it to the neutral face;
3. per point, the median over photos, snapped to the surface, replaces the embedding of points 17-67
   (with `--keep-inner-lips`, 17-59). The jawline (0-16) is a silhouette (`emoca.fit.jaw_contour`) and
   keeps its frontal places.

Every `--every`-th trainset photo (those the fitter's loss weights were tuned on) is left out, so the
result can be checked on photos it did not learn from. The testset is never read.
"""

import argparse

import numpy as np
import torch
import trimesh

from emoca.commands.reconstruct import Reconstructor, fit_targets
from emoca.datasets.helen import helen_split, nme
from emoca.detect.affine import apply_affine, invert_affine
from emoca.facemodel.ict import ICTFaceModel
from emoca.facemodel.learn_embedding import EMBEDDING, snap_to_surface, surface_hits
from emoca.fit.photo import FitTargets
from emoca.io.atomic import atomic_path
from emoca.io.images import load_image
from emoca.render.camera import weak_perspective
from emoca.render.rasterize import rasterize

BATCH = 10


def annotated_places(every: int) -> list[list[np.ndarray]]:
    """Per iBUG point, the neutral-face positions (cm) its annotations hit on the fitted meshes."""
    reconstructor = Reconstructor()
    model, fitter = reconstructor.model, reconstructor.fitter
    size = fitter.config.crop_size
    triangles, neutral = model.triangles.numpy(), model.template.numpy()
    photos = [item for i, item in enumerate(helen_split("trainset")) if i % every]
    samples: list[list[np.ndarray]] = [[] for _ in range(68)]
    pending: list[tuple[FitTargets, np.ndarray]] = []  # crops and their annotations in crop pixels
    for number, (path, truth) in enumerate(photos, 1):
        image = load_image(path)
        faces = reconstructor.landmarker(image)
        if faces:
            best = min(faces, key=lambda face: nme(face.landmarks_68, truth))
            targets, to_input = fit_targets(image, [best], reconstructor.crop)
            pending.append((targets, apply_affine(invert_affine(to_input[0]), truth)))
        if len(pending) == BATCH or (number == len(photos) and pending):
            batch = FitTargets.concat([item[0] for item in pending])
            result = fitter.fit(batch)
            with torch.no_grad():
                screen = weak_perspective(result.vertices, result.scale, result.offset, (size, size))
                ids = rasterize(screen, model.triangles, (size, size)).triangle_id.numpy()
            for row, (_, annotated) in enumerate(pending):
                hits = surface_hits(annotated, ids[row], screen[row].numpy(), result.vertices[row].numpy(), triangles)
                for point, hit in enumerate(hits):
                    if hit is not None:
                        samples[point].append(hit[1] @ neutral[triangles[hit[0]]])
            pending = []
            print(f"{number}/{len(photos)} photos", flush=True)
    return samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=8, help="leave out every N-th trainset photo")
    parser.add_argument("--keep-inner-lips", action="store_true")
    args = parser.parse_args(argv)
    samples = annotated_places(args.every)
    model = ICTFaceModel()
    learned = list(range(17, 60 if args.keep_inner_lips else 68))
    medians = np.array([np.median(samples[p], 0) for p in learned])
    corners, bary = snap_to_surface(model, trimesh.Trimesh(model.template.numpy(), model.triangles.numpy(),
                                                           process=False), medians)
    embedding = dict(np.load(EMBEDDING))
    embedding["ibug_corners"][learned] = corners
    embedding["ibug_barycentric"][learned] = bary.astype(np.float32)
    embedding["ibug_spread_cm"][learned] = [np.median(np.linalg.norm(np.asarray(samples[p]) - m, axis=1))
                                            for p, m in zip(learned, medians, strict=True)]
    embedding["ibug_samples"][learned] = [len(samples[p]) for p in learned]
    print(f"points {learned[0]}-{learned[-1]}: median {np.median(embedding['ibug_samples'][learned]):.0f} photos "
          f"per point, median spread {10 * np.median(embedding['ibug_spread_cm'][learned]):.2f} mm")
    with atomic_path(EMBEDDING) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **embedding)


if __name__ == "__main__":
    main()
