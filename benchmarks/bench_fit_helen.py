"""68-point NME of the fitted mesh's projected landmarks on HELEN's testset, beside the detector's own.

Run: `.venv/bin/python benchmarks/bench_fit_helen.py` (part of `make bench`; about 10 minutes).
Target (issue "emoca reconstruct"): the fitted NME at most the detector's NME + 0.5 points (mean over
photos with NME <= 10%). `--flame PKL` fits that FLAME file instead of ICT (e.g. ICT in FLAME's
layout from `python -m emoca.facemodel.ict_as_flame`); `--every N` takes every Nth photo. For choosing
settings, `--split trainset --every 8` measures the trainset photos the learned landmark parts hold out
(never the testset); `--refine-steps P S A` sets regress+fit's and regress+identity's short schedule.
A run over the whole testset records its figures in out/report/figures.json ("fit_helen").
"""

import argparse

import numpy as np
import torch
from figures import record

from emoca.datasets.helen import helen_split, nme, nme_figures
from emoca.datasets.helen import nme_summary as summary
from emoca.io.images import load_image
from emoca.pipeline.photo import METHODS, Reconstructor, ReconstructorConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flame", default=None, help="a FLAME generic_model.pkl to fit instead of ICT")
    parser.add_argument("--every", type=int, default=1, help="every Nth test photo (default all)")
    parser.add_argument("--method", choices=METHODS, default="fit", help="the predictor (default fit)")
    parser.add_argument("--split", choices=("testset", "trainset"), default="testset")
    parser.add_argument("--refine-steps", type=int, nargs=3, default=ReconstructorConfig.refine_steps,
                        metavar=("POSE", "SHAPE", "APPEARANCE"))
    args = parser.parse_args()
    torch.manual_seed(0)
    reconstructor = Reconstructor(ReconstructorConfig(model="flame" if args.flame else "ict", flame=args.flame,
                                                      method=args.method, refine_steps=tuple(args.refine_steps)))
    detected, fitted = [], []
    photos = helen_split(args.split)[::args.every]
    for path, truth in photos:
        image = load_image(path)
        faces = reconstructor.landmarker(image)
        if not faces:
            detected.append(np.inf), fitted.append(np.inf)
            continue
        best = min(range(len(faces)), key=lambda i: nme(faces[i].landmarks_68, truth))
        targets = reconstructor.targets(image, faces[best:best + 1])
        face = reconstructor.faces(faces[best:best + 1], reconstructor.predictor.predict(targets), targets.to_input,
                                   {})[0]
        detected.append(nme(faces[best].landmarks_68, truth))
        fitted.append(nme(face.landmarks_68, truth))
    print(f"HELEN {args.split}, {len(photos)} photos, {reconstructor.decoder.terms.name}, {args.method} "
          f"{tuple(args.refine_steps) if args.method.startswith('regress+') else ''}: detector "
          f"{summary(detected)}; reconstructed mesh {summary(fitted)}  "
          "[targets: fit, regress+fit <= detector + 0.5 points; regress <= detector + 1.0]")
    if args.split == "testset" and args.every == 1:  # the reported figure; subsets and trainset runs are for choosing
        record("fit_helen", {f"{reconstructor.decoder.terms.name}, {args.method}": {
            "detector": nme_figures(detected), "mesh": nme_figures(fitted)}})


if __name__ == "__main__":
    main()
