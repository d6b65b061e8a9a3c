"""Learn ICT's expression correctives (`emoca.fit.expression_correctives`) from people photographed
with several expressions.

    python -m emoca.fit.learn_expression_correctives [--rounds 2] [--ridge 10]

Data: the expressions_wild *train* split, subjects with two or more photos (about 250 people, 1,050
photos, mixed expressions); the valid split is never read. Each round fits every photo on its own
(identity free, `emoca.fit.photo` with the correctives learned so far), regresses the fitted identity
on the fitted expression within each subject (`within_subject_slope`) and adds that slope to the
correctives: what is left of the identity's drift with expression after the round is learned by the next.
The ridge weight (10) was chosen by split-half retrieval on these subjects (learn on half the people,
check whether another photo of the same person is the nearest identity on the other half). The fits use
the shipped jaw offsets when there are any; the shipped correctives were learned before the jaw offsets
existed (to re-learn both: this first, then `emoca.fit.learn_jaw_offsets`). About 6 minutes on 2 cores.
"""

import argparse
from collections import Counter

import numpy as np
import torch

from emoca.commands.reconstruct import Reconstructor, fit_targets
from emoca.datasets.expressions_wild import WildPhoto, wild_photos
from emoca.fit.expression_correctives import CORRECTIVES, within_subject_slope
from emoca.fit.photo import FitTargets
from emoca.io.atomic import atomic_path
from emoca.io.images import load_image

BATCH = 10


def detect(reconstructor: Reconstructor, photos: list[WildPhoto]) -> tuple[list[FitTargets], list[str]]:
    """Crops and landmarks of the first face of each photo (photos without a face are skipped)."""
    targets, subjects = [], []
    for photo in photos:
        image = load_image(photo.path)
        faces = reconstructor.landmarker(image)
        if faces:
            targets.append(fit_targets(image, faces[:1], reconstructor.crop)[0])
            subjects.append(photo.subject)
    return targets, subjects


def fit_all(reconstructor: Reconstructor, targets: list[FitTargets]) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) identities and (N, E) expressions of independent fits, `BATCH` photos at a time."""
    identities, expressions = [], []
    for start in range(0, len(targets), BATCH):
        result = reconstructor.fitter.fit(FitTargets.concat(targets[start:start + BATCH]))
        identities.append(result.identity.numpy())
        expressions.append(result.expression.numpy())
    return np.concatenate(identities), np.concatenate(expressions)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ridge", type=float, default=10.0)
    args = parser.parse_args(argv)
    photos = wild_photos("train")
    counts = Counter(photo.subject for photo in photos)
    photos = [photo for photo in photos if counts[photo.subject] >= 2]
    reconstructor = Reconstructor()
    terms = reconstructor.fitter.terms
    terms.correctives = None  # learn from ICT's own blendshapes, not from a shipped file
    targets, subjects = detect(reconstructor, photos)
    print(f"{len(targets)} photos of {len(set(subjects))} people", flush=True)
    correctives = np.zeros((terms.n_expression, reconstructor.model.n_identity))
    for round_number in range(1, args.rounds + 1):
        identity, expression = fit_all(reconstructor, targets)
        slope = within_subject_slope(identity, expression, subjects, args.ridge)
        correctives += slope
        terms.correctives = torch.from_numpy(correctives.astype(np.float32))
        print(f"round {round_number}: slope norm {np.linalg.norm(slope):.2f}, identity norm per photo "
              f"{np.linalg.norm(identity, axis=1).mean():.2f}", flush=True)
    with atomic_path(CORRECTIVES) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, correctives=correctives.astype(np.float32), ridge=args.ridge, rounds=args.rounds,
                     photos=len(targets), people=len(set(subjects)))


if __name__ == "__main__":
    main()
