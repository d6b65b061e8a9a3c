"""Learn where annotators put the jawline relative to the fitted face's silhouette (ICT).

    python -m emoca.train.jaw_offsets [--rounds 2] [--every 8]

Writes `decode/data/ict_jaw_offsets.npz`.

The 68-point jawline is fitted to the projected silhouette (`emoca.decode.jaw_contour`), but people (and
the detectors trained on them) draw it a little inside or along it, by amounts that differ per point.
Left unmodelled, every fit widens or lowers the identity's jaw to meet them, and all identities share
that shift. This learns, per jaw point, a median offset from the silhouette along the outline's outward
normal and tangent, in outer-eye-corner distances (`shift_along_outline`), from HELEN trainset
annotations on fits whose identity is held at the mean face (so the identity cannot take the offset up).
Each round fits with the offsets learned so far and adds the median of what is left. Every `--every`-th
trainset photo (the landmark weights' tuning photos) is left out; the testset is never read.
"""

import argparse

import numpy as np
import torch

from emoca.datasets.helen import helen_split
from emoca.decode.jaw_contour import ICT_JAW_OFFSETS, JAW, outline_frame
from emoca.detect.affine import apply_affine, invert_affine
from emoca.facemodel.landmark_sets import outer_eye_distance
from emoca.io.atomic import atomic_path
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.train.fitted_photos import CroppedFace, crop_photos, fit_in_batches, nearest_to


def residual_offsets(reconstructor: Reconstructor, faces: list[CroppedFace], jawlines: np.ndarray) -> np.ndarray:
    """(N, 17, 2) annotated minus fitted jaw points in each fit's outline frame, in eye distances;
    `jawlines`: (N, 17, 2) annotations in crop pixels."""
    decoder = reconstructor.decoder
    fitted = fit_in_batches(reconstructor, faces, identity=torch.zeros(reconstructor.model.n_identity))
    with torch.no_grad():
        decoded = decoder.decode(fitted.to(decoder.device))
        _, ibug3d, _ = decoder.terms.points_on(decoded.vertices)
        points = decoder.project(ibug3d, fitted.scale.to(decoder.device), fitted.offset.to(decoder.device)).cpu()
    normals, tangents = outline_frame(points[:, JAW], points.mean(1))
    eye = outer_eye_distance(points)[:, None]
    residual = torch.from_numpy(jawlines).float() - decoded.landmarks_68.cpu()[:, JAW]
    return (torch.stack([(residual * normals).sum(-1), (residual * tangents).sum(-1)], -1) / eye[..., None]).numpy()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--every", type=int, default=8, help="leave out every N-th trainset photo")
    args = parser.parse_args(argv)
    reconstructor = Reconstructor(ReconstructorConfig(method="fit"))  # learnt from the fitter's meshes
    terms = reconstructor.decoder.terms
    offsets = np.zeros((len(JAW), 2))
    terms.jaw_offsets = None  # learn from the bare silhouette, not from a shipped file
    photos = [item for index, item in enumerate(helen_split("trainset")) if index % args.every]
    faces = crop_photos(reconstructor, [path for path, _ in photos], nearest_to([truth for _, truth in photos]))
    jawlines = np.stack([apply_affine(invert_affine(face.to_input), photos[face.position][1])[JAW] for face in faces])
    print(f"{len(faces)} trainset photos", flush=True)
    for round_number in range(1, args.rounds + 1):
        step = np.median(residual_offsets(reconstructor, faces, jawlines), 0)
        offsets += step
        terms.jaw_offsets = torch.from_numpy(offsets.astype(np.float32)).to(reconstructor.decoder.device)
        print(f"round {round_number}: mean |step| {np.abs(step).mean():.4f} eye distances; offsets (normal, tangent)"
              f" {np.round(offsets, 3).tolist()}", flush=True)
    with atomic_path(ICT_JAW_OFFSETS) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, offsets=offsets.astype(np.float32), rounds=args.rounds, photos=len(faces))


if __name__ == "__main__":
    main()
