"""Distil the fitter's identities into the regressor's identity head (`emoca.nets.identity_head`).

    python -m emoca.train.identity_head [--out PATH]

Data: the regressor's caches (`python -m emoca.train.regressor_data`): HELEN trainset and
expressions_wild train, each face's detected points and the fitter's identity. The valid and test
splits are never read. The ridge penalty is chosen by retrieval over held-out people: the
expressions_wild train subjects with two or more photos are split into four folds; for each fold the
map is learned on HELEN and every other subject's photos, and each held-out photo's nearest identity
(Euclidean) must be another photo of the same person. The fitter's own identities are scored the same
way for comparison. Seconds on 2 cores.
"""

import argparse
from collections import Counter

import numpy as np
import torch

from emoca.datasets.expressions_wild import wild_photos
from emoca.nets.encoders import normalised_points
from emoca.nets.identity_head import WEIGHTS, fit_ridge, head_of, save_identity_head
from emoca.train.regressor_data import CACHE

PENALTIES = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
FOLDS = 4


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(WEIGHTS), help="weights file (default: the shipped one)")
    args = parser.parse_args(argv)
    helen, wild = (dict(np.load(CACHE / f"{name}.npz")) for name in ("helen_train", "wild_train"))
    photos = wild_photos("train")
    subjects = np.array([photos[index].subject for index in wild["source_index"]])
    wild_points, helen_points = flat_points(wild), flat_points(helen)
    folds = subject_folds(subjects, FOLDS)
    fitter = np.mean([nearest_is_same(wild["fit_identity"][fold], subjects[fold]) for fold in folds])
    print(f"held-out retrieval over {FOLDS} folds of expressions_wild train people ({sum(map(np.sum, folds))} photos):")
    print(f"  the fitter's identities: {100 * fitter:.1f}%")
    scores = {}
    for penalty in PENALTIES:
        found = []
        for fold in folds:
            fit = fit_ridge(np.concatenate([wild_points[~fold], helen_points]),
                            np.concatenate([wild["fit_identity"][~fold], helen["fit_identity"]]), penalty)
            found.append(nearest_is_same(fit(wild_points[fold]), subjects[fold]))
        scores[penalty] = float(np.mean(found))
        print(f"  ridge penalty {penalty:g}: {100 * scores[penalty]:.1f}%")
    penalty = max(scores, key=scores.get)
    fit = fit_ridge(np.concatenate([wild_points, helen_points]),
                    np.concatenate([wild["fit_identity"], helen["fit_identity"]]), penalty)
    save_identity_head(head_of(fit), args.out, {"penalty": penalty, "retrieval": scores[penalty],
                                                "fitter_retrieval": float(fitter),
                                                "faces": len(wild_points) + len(helen_points)})
    print(f"penalty {penalty:g} on all {len(wild_points) + len(helen_points)} faces -> {args.out}")


if __name__ == "__main__":
    main()
