"""Learn ICT's expression correctives (`emoca.decode.expression_correctives`) from people photographed
with several expressions.

    python -m emoca.train.expression_correctives [--rounds 2] [--ridge 10]

Writes `decode/data/ict_expression_correctives.npz`.

Data: the expressions_wild *train* split, subjects with two or more photos (about 250 people, 1,050
photos, mixed expressions); the valid split is never read. Each round fits every photo on its own
(identity free, `emoca.predictors.fitter` with the correctives learned so far), regresses the fitted identity
on the fitted expression within each subject (`within_subject_slope`) and adds that slope to the
correctives: what is left of the identity's drift with expression after the round is learned by the next.
The ridge weight (10) was chosen by split-half retrieval on these subjects (learn on half the people,
check whether another photo of the same person is the nearest identity on the other half). The fits use
the shipped jaw offsets when there are any; the shipped correctives were learned before the jaw offsets
existed (to re-learn both: this first, then `emoca.train.jaw_offsets`). About 6 minutes on 2 cores.
"""

import argparse
from collections import Counter

import numpy as np
import torch

from emoca.datasets.expressions_wild import wild_photos
from emoca.decode.expression_correctives import CORRECTIVES, within_subject_slope
from emoca.io.atomic import atomic_path
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.train.fitted_photos import crop_photos, fit_in_batches


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ridge", type=float, default=10.0)
    args = parser.parse_args(argv)
    photos = wild_photos("train")
    counts = Counter(photo.subject for photo in photos)
    photos = [photo for photo in photos if counts[photo.subject] >= 2]
    reconstructor = Reconstructor(ReconstructorConfig(method="fit"))  # learnt from the fitter's meshes
    terms = reconstructor.decoder.terms
    terms.correctives = None  # learn from ICT's own blendshapes, not from a shipped file
    faces = crop_photos(reconstructor, [photo.path for photo in photos])
    subjects = [photos[face.position].subject for face in faces]
    print(f"{len(faces)} photos of {len(set(subjects))} people", flush=True)
    correctives = np.zeros((terms.n_expression, reconstructor.model.n_identity))
    for round_number in range(1, args.rounds + 1):
        fitted = fit_in_batches(reconstructor, faces)
        identity, expression = fitted.identity.numpy(), fitted.expression.numpy()
        slope = within_subject_slope(identity, expression, subjects, args.ridge)
        correctives += slope
        terms.correctives = torch.from_numpy(correctives.astype(np.float32))
        print(f"round {round_number}: slope norm {np.linalg.norm(slope):.2f}, identity norm per photo "
              f"{np.linalg.norm(identity, axis=1).mean():.2f}", flush=True)
    with atomic_path(CORRECTIVES) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, correctives=correctives.astype(np.float32), ridge=args.ridge, rounds=args.rounds,
                     photos=len(faces), people=len(set(subjects)))


if __name__ == "__main__":
    main()
