"""Refine where the 68 iBUG points sit on the ICT mesh from annotated photos (HELEN trainset).

    python -m emoca.train.ibug_embedding [--every 8] [--keep-inner-lips]

Rewrites points 17-67 of `facemodel/data/ict_landmark_embedding.npz` (after `emoca.train.landmark_embedding`).

`emoca.train.landmark_embedding` places the points where our detector sees them on renders of a
brow-less, untextured head; on real faces people (and detectors trained on their annotations) put
brows, lids and lips a little elsewhere. This step learns the places from photos:

1. fit every trainset photo with the current embedding (detected landmarks only, never the
   annotations: `emoca.predictors.fitter`);
2. render the fit's triangle ids on its crop; each annotated point hits a front-facing triangle, and its
   barycentrics there carry it to the neutral face;
3. per point, the median over photos, snapped to the surface, replaces the embedding of points 17-67
   (with `--keep-inner-lips`, 17-59). The jawline (0-16) is a silhouette (`emoca.decode.jaw_contour`) and
   keeps its frontal places.

Every `--every`-th trainset photo (those the fitter's loss weights were tuned on) is left out, so the
result can be checked on photos it did not learn from. The testset is never read.
"""

import argparse

import numpy as np
import torch
import trimesh

from emoca.datasets.helen import helen_split
from emoca.detect.affine import apply_affine, invert_affine
from emoca.facemodel.ict import ICTFaceModel
from emoca.io.atomic import atomic_path
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.render.camera import weak_perspective
from emoca.render.rasterize import rasterize
from emoca.train.fitted_photos import crop_photos, fit_in_batches, nearest_to
from emoca.train.landmark_embedding import EMBEDDING, snap_to_surface, surface_hits


def annotated_places(every: int) -> list[list[np.ndarray]]:
    """Per iBUG point, the neutral-face positions (cm) its annotations hit on the fitted meshes."""
    reconstructor = Reconstructor(ReconstructorConfig(method="fit"))  # learnt from the fitter's meshes
    model, decoder = reconstructor.model, reconstructor.decoder
    size = decoder.crop_size
    triangles, neutral = model.triangles.numpy(), model.template.numpy()
    photos = [item for i, item in enumerate(helen_split("trainset")) if i % every]
    faces = crop_photos(reconstructor, [path for path, _ in photos], nearest_to([truth for _, truth in photos]))
    print(f"{len(faces)}/{len(photos)} photos with a face", flush=True)
    fitted = fit_in_batches(reconstructor, faces)
    with torch.no_grad():
        vertices = decoder.decode(fitted).vertices
        screen = weak_perspective(vertices, fitted.scale, fitted.offset, (size, size))
        ids = rasterize(screen, model.triangles, (size, size)).triangle_id.numpy()
    samples: list[list[np.ndarray]] = [[] for _ in range(68)]
    for row, face in enumerate(faces):
        annotated = apply_affine(invert_affine(face.to_input), photos[face.position][1])
        hits = surface_hits(annotated, ids[row], screen[row].numpy(), vertices[row].numpy(), triangles)
        for point, hit in enumerate(hits):
            if hit is not None:
                samples[point].append(hit[1] @ neutral[triangles[hit[0]]])
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
