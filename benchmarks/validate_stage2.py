"""Stage 2 weights on the regressor's validation faces (expressions_wild valid + 1,000 FER+ valid): the
stage's own loss terms, our recogniser's emotion distance and class disagreement among them (what
checkpoints are chosen on; never the judge), computed with the code as it stands (the renders, the
albedo), so weights trained at different times compare on equal terms.

Run: `.venv/bin/python benchmarks/validate_stage2.py [FILE ...]` (default: the shipped stage 2 and its
control). Needs the caches of `python -m emoca.train.regressor_data`.
"""

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from emoca.decode.decoder import FaceDecoder
from emoca.facemodel.ict import ICTFaceModel
from emoca.nets.emotion import load_emotion_net
from emoca.nets.encoders import TRUNK_SIZE
from emoca.nets.regressor import COARSE_WEIGHTS, EXPRESSION_WEIGHTS, Regressor
from emoca.predictors.emotion_term import EmotionConsistency
from emoca.train.regressor import CONTROL_WEIGHTS, STAGES, VALID_SOURCES, FaceCache, StageLoss, validate

SHOWN = ("total", "ibug", "dense", "closure", "photometric", "_emotion_distance", "_emotion_divergence",
         "_emotion_disagreement")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, default=[EXPRESSION_WEIGHTS, CONTROL_WEIGHTS])
    args = parser.parse_args()
    torch.manual_seed(0)
    decoder = FaceDecoder(ICTFaceModel(), TRUNK_SIZE)
    loss = StageLoss(decoder, replace(STAGES["expression"], emotion=0.0), EmotionConsistency(load_emotion_net()))
    valid = FaceCache(VALID_SOURCES)
    for path in args.files:
        regressor = Regressor.load(COARSE_WEIGHTS, path)
        scores = validate(regressor, loss, valid)
        scores["total"] = sum(v for k, v in scores.items() if not k.startswith("_"))
        print(f"{path}: " + ", ".join(f"{k} {scores[k]:.4f}" for k in SHOWN if k in scores), flush=True)


if __name__ == "__main__":
    main()
