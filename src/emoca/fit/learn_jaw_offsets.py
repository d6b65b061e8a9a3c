"""Learn where annotators put the jawline relative to the fitted face's silhouette (ICT).

    python -m emoca.fit.learn_jaw_offsets [--rounds 2] [--every 8]

The 68-point jawline is fitted to the projected silhouette (`emoca.fit.jaw_contour`), but people (and
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

from emoca.commands.reconstruct import Reconstructor, fit_targets
from emoca.datasets.helen import helen_split, nme
from emoca.detect.affine import apply_affine, invert_affine
from emoca.fit.jaw_contour import ICT_JAW_OFFSETS, JAW, outline_frame
from emoca.fit.photo import FitTargets
from emoca.io.atomic import atomic_path
from emoca.io.images import load_image

BATCH = 10


def detect(reconstructor: Reconstructor, every: int) -> tuple[list[FitTargets], list[np.ndarray]]:
    """Crops of the trainset photos not left out, and their annotated jawlines (17, 2) in crop pixels."""
    targets, jawlines = [], []
    for index, (path, truth) in enumerate(helen_split("trainset")):
        if index % every == 0:
            continue
        image = load_image(path)
        faces = reconstructor.landmarker(image)
        if faces:
            best = min(faces, key=lambda face: nme(face.landmarks_68, truth))
            crop, to_input = fit_targets(image, [best], reconstructor.crop)
            targets.append(crop)
            jawlines.append(apply_affine(invert_affine(to_input[0]), truth)[JAW])
    return targets, jawlines


def residual_offsets(reconstructor: Reconstructor, targets: list[FitTargets], jawlines: list[np.ndarray]
                     ) -> np.ndarray:
    """(N, 17, 2) annotated minus fitted jaw points in each fit's outline frame, in eye distances."""
    fitter = reconstructor.fitter
    mean_face = torch.zeros(reconstructor.model.n_identity)
    found = []
    for start in range(0, len(targets), BATCH):
        result = fitter.fit(FitTargets.concat(targets[start:start + BATCH]), identity=mean_face)
        with torch.no_grad():
            _, ibug3d, _ = fitter.terms.points_on(result.vertices.to(fitter.device))
            points = fitter.project(ibug3d.cpu(), result.scale, result.offset)
        normals, tangents = outline_frame(points[:, JAW], points.mean(1))
        eye = (points[:, 36] - points[:, 45]).norm(dim=-1)[:, None]
        residual = torch.from_numpy(np.stack(jawlines[start:start + BATCH])).float() - result.landmarks_68[:, JAW]
        found.append(torch.stack([(residual * normals).sum(-1), (residual * tangents).sum(-1)], -1) / eye[..., None])
    return torch.cat(found).numpy()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--every", type=int, default=8, help="leave out every N-th trainset photo")
    args = parser.parse_args(argv)
    reconstructor = Reconstructor()
    terms = reconstructor.fitter.terms
    offsets = np.zeros((len(JAW), 2))
    terms.jaw_offsets = None  # learn from the bare silhouette, not from a shipped file
    targets, jawlines = detect(reconstructor, args.every)
    print(f"{len(targets)} trainset photos", flush=True)
    for round_number in range(1, args.rounds + 1):
        step = np.median(residual_offsets(reconstructor, targets, jawlines), 0)
        offsets += step
        terms.jaw_offsets = torch.from_numpy(offsets.astype(np.float32)).to(reconstructor.fitter.device)
        print(f"round {round_number}: mean |step| {np.abs(step).mean():.4f} eye distances; offsets (normal, tangent)"
              f" {np.round(offsets, 3).tolist()}", flush=True)
    with atomic_path(ICT_JAW_OFFSETS) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, offsets=offsets.astype(np.float32), rounds=args.rounds, photos=len(targets))


if __name__ == "__main__":
    main()
