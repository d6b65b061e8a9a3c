"""Emotion fidelity on FER+ test (3,152 faces; one standard error about 0.9 points), per method.

Each FER+ test face (48 px grey, upsampled 4x and padded as the training caches do,
`emoca.train.regressor_data._upsampled_fer`) is detected and cropped (224 px) once; each method then
predicts the faces in batches of `--batch` and renders them over their crops (the render `render.png`
shows, at crop scale). The independent judge (`emoca.nets.judge`: `fer`'s mini-Xception, the same
weights as the acceptance check's TFLite file, in PyTorch) classifies the photo crop and the render
(64 px grey); reported: agreement (judge(render) == judge(photo)), the judge's accuracy on the renders and
on the photos against the FER+ majority label (contempt faces are left out of accuracies: the judge has
no such class), and seconds per face. The judge only reports: nothing is chosen on these figures.

Run: `.venv/bin/python benchmarks/bench_fidelity_ferplus.py [--methods regress,emoca-noemotion,emoca] [--limit N]`
(part of `make bench`; the fitting methods take minutes per thousand faces).
"""

import argparse
import time

import numpy as np
import torch
from figures import record

from emoca.datasets.ferplus import load_ferplus
from emoca.detect.crops import CropConfig
from emoca.detect.pipeline import FaceLandmarker
from emoca.emotions import EMOTIONS
from emoca.nets.emotion import to_grey
from emoca.nets.judge import INPUT_SIZE, JUDGE_CLASSES, load_judge
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.targets import FaceTargets, face_targets
from emoca.train.regressor import CONTROL_WEIGHTS
from emoca.train.regressor_data import _upsampled_fer

# FER+'s classes as the judge names them (contempt: none).
# Rows other than a method's name: (method, emoca's emotion weight or None, expression encoder or None).
ROWS = {"emoca-noemotion": ("emoca", 0.0, None),  # the test-time control: emoca without its emotion term
        "regress-noemotion": ("regress", None, str(CONTROL_WEIGHTS))}  # any working folder
JUDGE_NAME = {"neutral": "neutral", "happy": "happy", "sad": "sad", "surprise": "surprise", "fear": "fear",
              "disgust": "disgust", "anger": "angry"}


def detected_faces(limit: int | None) -> tuple[FaceTargets, np.ndarray, int]:
    """The FER+ test faces the detector finds (targets on 224-px crops), their labels, and the count."""
    test = load_ferplus("test")
    rows = np.arange(len(test.images))[:limit]
    landmarker, crop = FaceLandmarker(), CropConfig()  # the detection and crops every method sees
    found, labels = [], []
    for i in rows:
        image = _upsampled_fer(test.images[i])
        faces = landmarker(image)
        if faces:
            targets = face_targets(image, faces[:1], crop)
            found.append(targets)
            labels.append(int(test.labels[i]))
    return FaceTargets.concat(found), np.array(labels), len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="regress,emoca-noemotion,emoca")
    parser.add_argument("--limit", type=int, default=None, help="the first N test faces only")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    targets, labels, total = detected_faces(args.limit)
    judge = load_judge()
    with torch.no_grad():
        photo_class = torch.cat([judge(to_grey(targets.images[s:s + 256], INPUT_SIZE)).argmax(-1)
                                 for s in range(0, len(targets), 256)]).numpy()
    names = np.array([JUDGE_NAME.get(EMOTIONS[k], "") for k in labels])
    judged = names != ""
    photo_names = np.array(JUDGE_CLASSES)[photo_class]
    print(f"FER+ test: {len(targets)} of {total} faces detected; judge on the photos: "
          f"{100 * np.mean(photo_names[judged] == names[judged]):.1f}% ({judged.sum()} faces with a judge class)")
    for method in args.methods.split(","):
        name, weight, encoder = ROWS.get(method, (method, None, None))
        config = ReconstructorConfig(method=name, emotion=False)
        if weight is not None:
            config.emoca.emotion_weight = weight
        if encoder is not None:
            config.expression_encoder = encoder
        reconstructor = Reconstructor(config)
        decoder, render_class = reconstructor.decoder, []
        start = time.perf_counter()
        for s in range(0, len(targets), args.batch):
            batch = targets[s:s + args.batch]
            params = reconstructor.predictor.predict(batch)
            with torch.no_grad():
                rendered = decoder.render(params, decoder.decode(params), batch.images.shape[-1],
                                          background=batch.images).image
                render_class.append(judge(to_grey(rendered, INPUT_SIZE)).argmax(-1))
        seconds = (time.perf_counter() - start) / len(targets)
        render_names = np.array(JUDGE_CLASSES)[torch.cat(render_class).numpy()]
        record("fidelity_ferplus", {method: {
            "faces": len(targets), "of": total,
            "agreement": round(100 * float(np.mean(render_names == photo_names)), 1),
            "render_accuracy": round(100 * float(np.mean(render_names[judged] == names[judged])), 1),
            "photo_accuracy": round(100 * float(np.mean(photo_names[judged] == names[judged])), 1),
            "ms_per_face": round(1000 * seconds)}})
        print(f"{method}: agreement {100 * np.mean(render_names == photo_names):.1f}%, judge accuracy on renders "
              f"{100 * np.mean(render_names[judged] == names[judged]):.1f}%, {1000 * seconds:.0f} ms a face "
              f"(batches of {args.batch})", flush=True)


if __name__ == "__main__":
    main()
