"""Distil the fitter's identities into the regressor's identity head (`emoca.nets.identity_head`).

    python -m emoca.train.identity_head [--out PATH]

Data: the regressor's caches (`python -m emoca.train.regressor_data`): HELEN trainset and
expressions_wild train, each face's detected points and the fitter's identity. The valid and test
splits are never read. The ridge penalty is chosen by retrieval over held-out people: the
expressions_wild train subjects with two or more photos are split into four folds; for each fold the
map is learned on HELEN and every other subject's photos, and each held-out photo's nearest identity
(Euclidean) must be another photo of the same person. The fitter's own identities are scored the same
way for comparison.

`--synthetic N` (default 1,000) adds N SYNTHETIC renders (`emoca.synthetic`, seed `SYNTHETIC_SEED`:
never the benchmarks' 7 or the seeds their analyses use) with their exact identities, each weighted
`--synthetic-weight` (default 16, chosen by the retrieval above among 1, 4, 16 and 64): the fitter's
identities of photos carry its landmark noise, the renders' do not. Also printed: the identity error on
another `N // 4` renders (seed `SYNTHETIC_SEED + 1`): the mean per-vertex distance (mm, face region,
neutral expression) between the head's identity and the truth. About 2.5 minutes on one thread with
1,000 renders (rendering and detecting), seconds with `--synthetic 0`.
"""

import argparse
from collections import Counter

import numpy as np
import torch

from emoca.datasets.expressions_wild import wild_photos
from emoca.facemodel.ict import ICTFaceModel
from emoca.nets.encoders import normalised_points
from emoca.nets.identity_head import WEIGHTS, fit_ridge, head_of, save_identity_head
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.synthetic import SceneRenderer, random_scene
from emoca.train.regressor_data import CACHE

PENALTIES = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
FOLDS = 4
SYNTHETIC_SEED = 1000


def flat_points(cache: dict[str, np.ndarray]) -> np.ndarray:
    """(N, 1092) the cached faces' 68 + 478 points, normalised as the regressor sees them."""
    points = normalised_points(torch.from_numpy(cache["landmarks_68"]), torch.from_numpy(cache["dense"]),
                               int(cache["crop_size"]))
    return points.flatten(1).numpy()


def nearest_is_same(identities: np.ndarray, subjects: np.ndarray) -> float:
    """Share of rows whose nearest other row (Euclidean) has the same subject."""
    distances = ((identities[:, None] - identities[None]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    return float((subjects[distances.argmin(1)] == subjects).mean())


def subject_folds(subjects: np.ndarray, folds: int, seed: int = 0) -> list[np.ndarray]:
    """Boolean row masks of `folds` disjoint groups of the subjects with two or more rows."""
    counts = Counter(subjects.tolist())
    people = sorted(person for person, count in counts.items() if count >= 2)
    np.random.default_rng(seed).shuffle(people)
    return [np.isin(subjects, people[index::folds]) for index in range(folds)]


def synthetic_faces(reconstructor: Reconstructor, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The detected points (N, 1092, as `flat_points`) of `count` SYNTHETIC renders of seed `seed` (those
    `reconstructor`'s detector finds a face in) and their (N, K) target identities: the true identity
    less the expression correctives' share (`FaceDecoder.mesh_identity`), so that the decoder, given the
    true expression, rebuilds the true mesh."""
    model, decoder = reconstructor.model, reconstructor.decoder
    render, generator = SceneRenderer(model, decoder.albedo), torch.Generator().manual_seed(seed)
    points, identities = [], []
    for _ in range(count):
        scene = random_scene(model, decoder.albedo, generator)
        photo = render(scene)
        found = reconstructor.landmarker(photo)
        if not found:
            continue
        targets = reconstructor.targets(photo, found[:1])
        points.append(normalised_points(targets.landmarks_68, targets.dense, reconstructor.crop.size).flatten(1))
        truth = scene["params"]["identity"]
        with torch.no_grad():
            params = decoder.neutral(1).replace(identity=truth, expression=scene["params"]["expression"])
            identities.append(2 * truth - decoder.mesh_identity(params))
    return torch.cat(points).numpy(), torch.cat(identities).numpy()


def identity_error_mm(model: ICTFaceModel, found: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-vertex distance (mm) over the face region between the neutral faces of (N, K) `found`
    and `truth` identities (no alignment: both are neutral and unposed in the model's frame)."""
    face = model.regions["face"]
    with torch.no_grad():
        shapes = [model.shape(torch.as_tensor(x, dtype=torch.float32), torch.zeros(len(x), len(model.expression_names)))
                  for x in (found, truth)]
    return float(10 * (shapes[0][:, face] - shapes[1][:, face]).norm(dim=-1).mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(WEIGHTS), help="weights file (default: the shipped one)")
    parser.add_argument("--synthetic", type=int, default=1000, help="SYNTHETIC renders added to the photos")
    parser.add_argument("--synthetic-weight", type=float, default=16.0, help="each render's weight (a photo's: 1)")
    args = parser.parse_args(argv)
    helen, wild = (dict(np.load(CACHE / f"{name}.npz")) for name in ("helen_train", "wild_train"))
    photos = wild_photos("train")
    subjects = np.array([photos[index].subject for index in wild["source_index"]])
    wild_points, helen_points = flat_points(wild), flat_points(helen)
    rendered = [np.zeros((0, wild_points.shape[1])), np.zeros((0, wild["fit_identity"].shape[1]))]
    held_out = None
    if args.synthetic:
        reconstructor = Reconstructor(ReconstructorConfig(method="fit"))
        model = reconstructor.model
        rendered = list(synthetic_faces(reconstructor, args.synthetic, SYNTHETIC_SEED))
        held_out = synthetic_faces(reconstructor, args.synthetic // 4, SYNTHETIC_SEED + 1)
        print(f"SYNTHETIC: {len(rendered[0])} of {args.synthetic} renders with a face (weight "
              f"{args.synthetic_weight:g}), {len(held_out[0])} held out")
        photos_only = fit_ridge(np.concatenate([wild_points, helen_points]),
                                np.concatenate([wild["fit_identity"], helen["fit_identity"]]), 1.0)
        mean_face = identity_error_mm(model, 0 * held_out[1], held_out[1])
        print(f"  held-out SYNTHETIC identity error of the mean face {mean_face:.2f} mm, of the map learned on "
              f"photos alone (penalty 1) {identity_error_mm(model, photos_only(held_out[0]), held_out[1]):.2f} mm")

    def ridge(rows: np.ndarray, penalty: float):
        """The map learned on the expressions_wild train `rows`, HELEN and the renders."""
        inputs = np.concatenate([wild_points[rows], helen_points, rendered[0]])
        weights = np.concatenate([np.ones(rows.sum() + len(helen_points)),
                                  np.full(len(rendered[0]), args.synthetic_weight)])
        return fit_ridge(inputs, np.concatenate([wild["fit_identity"][rows], helen["fit_identity"], rendered[1]]),
                         penalty, weights)

    folds = subject_folds(subjects, FOLDS)
    fitter = np.mean([nearest_is_same(wild["fit_identity"][fold], subjects[fold]) for fold in folds])
    print(f"held-out retrieval over {FOLDS} folds of expressions_wild train people ({sum(map(np.sum, folds))} photos):")
    print(f"  the fitter's identities: {100 * fitter:.1f}%")
    scores = {}
    everything = np.ones(len(wild_points), bool)
    for penalty in PENALTIES:
        scores[penalty] = float(np.mean([nearest_is_same(ridge(~fold, penalty)(wild_points[fold]), subjects[fold])
                                         for fold in folds]))
        line = f"  ridge penalty {penalty:g}: {100 * scores[penalty]:.1f}%"
        if held_out is not None:
            line += (f"; held-out SYNTHETIC identity error "
                     f"{identity_error_mm(model, ridge(everything, penalty)(held_out[0]), held_out[1]):.2f} mm")
        print(line)
    penalty = max(scores, key=scores.get)
    fit = ridge(everything, penalty)
    faces = len(wild_points) + len(helen_points) + len(rendered[0])
    save_identity_head(head_of(fit), args.out, {"penalty": penalty, "retrieval": scores[penalty],
                                                "fitter_retrieval": float(fitter), "faces": faces,
                                                "synthetic": len(rendered[0]),
                                                "synthetic_weight": args.synthetic_weight})
    print(f"penalty {penalty:g} on all {faces} faces -> {args.out}")


if __name__ == "__main__":
    main()
