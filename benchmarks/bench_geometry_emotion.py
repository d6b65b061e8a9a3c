"""Emotion from geometry (EMOCA's Table, in our data): the 8 classes from the expression parameters alone,
beside the image recogniser, per reconstruction method, and MediaPipe's 52 blendshapes through the same
MLP.

Run: `.venv/bin/python benchmarks/bench_geometry_emotion.py [--rows regress,mediapipe]` (part of `make
bench`; needs the regressor's face caches with FER+ test: `python -m emoca.train.regressor_data --test`,
and the fitter's expressions of `emoca.train.geometry_emotion.FIT_SUBSETS`: `python -m
emoca.train.geometry_emotion --method fit --fit-only ferplus_train ferplus_valid wild_valid
ferplus_test`). Every geometry row is an MLP trained here by `emoca.train.geometry_emotion.train_head`
(expressions_wild train + FER+ train, best epoch on FER+ valid); each row reports on expressions_wild
valid (every cached face) and FER+ test (every cached face, and the seeded 300 the fitter
reconstructs, where all rows are compared on the same faces).
Targets (issue "Emotion from geometry"): stage 2 within 3 points of the image recogniser on
expressions_wild valid and within 5 on FER+ test; >= 5 points above stage 1 and the fitter on both;
above MediaPipe's blendshapes on both; the MLP under 1 ms a face. Our data have no valence/arousal
labels, so V/A columns are not reported (`emoca.metrics` has them, tested on known answers).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_regressor_speed import blendshapes, face_landmarker  # noqa: E402
from figures import record  # noqa: E402

from emoca.emotions import EMOTIONS  # noqa: E402
from emoca.metrics import accuracy, macro_f1  # noqa: E402
from emoca.nets.emotion import load_emotion_net  # noqa: E402
from emoca.train.geometry_emotion import (  # noqa: E402
    SELECTION_SOURCE,
    TRAIN_SOURCES,
    HeadTraining,
    expressions,
    fit_rows,
    train_head,
)
from emoca.train.regressor_data import CACHE  # noqa: E402

REPORTED = ("wild_valid", "ferplus_test")
ROWS = {"regress": "geometry: stage 2 (EMOCA)", "regress_noemotion": "geometry: stage 2 without the emotion loss",
        "coarse": "geometry: stage 1", "fit": "geometry: the fitter", "mediapipe": "geometry: MediaPipe blendshapes"}


def _labels(name: str) -> np.ndarray:
    return np.load(CACHE / f"{name}.npz")["emotion_targets"]


def _share(name: str) -> float:
    with np.load(CACHE / f"{name}.npz") as cache:
        return len(cache["emotion_targets"]) / int(cache["photos"])


def mediapipe_blendshapes(name: str) -> np.ndarray:
    """(N, 52) MediaPipe blendshapes of a cache's crops (upsampled to 256 px), NaN rows where it finds no
    face; kept in `mediapipe_NAME.npz`."""
    path = CACHE / f"mediapipe_{name}.npz"
    if path.exists():
        return np.load(path)["blendshapes"]
    landmarker = face_landmarker()
    crops = torch.from_numpy(np.load(CACHE / f"{name}.npz")["crops"]).permute(0, 3, 1, 2).float()
    rows = []
    for start in range(0, len(crops), 64):
        big = F.interpolate(crops[start:start + 64], size=(256, 256), mode="bilinear", align_corners=False)
        for image in big.clamp(0, 255).round().byte().permute(0, 2, 3, 1).numpy():
            scores = blendshapes(landmarker, image)
            rows.append(np.array([scores[k] for k in sorted(scores)], np.float32) if scores
                        else np.full(52, np.nan, np.float32))
    values = np.stack(rows)
    np.savez(path, blendshapes=values)
    return values


def table(method: str, name: str, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(features, soft labels) of `method` on cache `name` (`rows`: a subset); MediaPipe's misses dropped."""
    if method != "mediapipe":
        return expressions(method, name, rows)
    values, labels = mediapipe_blendshapes(name), _labels(name)
    if rows is not None:
        values, labels = values[rows], labels[rows]
    found = ~np.isnan(values[:, 0])
    return values[found], labels[found].astype(np.float32)


def score_values(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 (%) of the most probable class against the label distributions' argmax."""
    predicted, truth = probabilities.argmax(1), labels.argmax(1)
    return {"accuracy": round(100 * accuracy(predicted, truth), 1),
            "macro_f1": round(100 * macro_f1(predicted, truth, len(EMOTIONS)), 1), "faces": len(labels)}


def scores(values: dict[str, float]) -> str:
    return f"{values['accuracy']:.1f}% / {values['macro_f1']:.1f}%"


def recogniser_probabilities(name: str, rows: np.ndarray | None = None) -> np.ndarray:
    """The image recogniser (mirror-averaged) on a cache's face crops (the crops the regressor sees)."""
    net = load_emotion_net()
    crops = np.load(CACHE / f"{name}.npz")["crops"]
    crops = crops if rows is None else crops[rows]
    with torch.no_grad():
        return torch.cat([net.predict(torch.from_numpy(crops[i:i + 256]).permute(0, 3, 1, 2).float() / 255)
                          .probabilities for i in range(0, len(crops), 256)]).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, of {', '.join(ROWS)}")
    chosen = parser.parse_args().rows.split(",")
    missing = [n for n in (*TRAIN_SOURCES, SELECTION_SOURCE, *REPORTED) if not (CACHE / f"{n}.npz").exists()]
    if missing:
        print(f"bench_geometry_emotion: caches missing ({', '.join(missing)}); "
              "run `python -m emoca.train.regressor_data --test` first")
        return
    subset = fit_rows("ferplus_test")
    header = ("| row | expressions_wild valid acc / macro-F1 | FER+ test acc / macro-F1 (all cached) | "
              f"FER+ test, the fitter's {len(subset)} | share reconstructed (wild valid, FER+ test) | MLP ms/face |")
    print(header + "\n|---|---|---|---|---|---|")
    share = f"{100 * _share('wild_valid'):.1f}%, {100 * _share('ferplus_test'):.1f}%"
    wild, fer = _labels("wild_valid"), _labels("ferplus_test")
    image = {"wild_valid": score_values(recogniser_probabilities("wild_valid"), wild),
             "ferplus_test": score_values(recogniser_probabilities("ferplus_test"), fer),
             "ferplus_test_fitter_subset": score_values(recogniser_probabilities("ferplus_test", subset), fer[subset])}
    record("geometry_emotion", {"recogniser": image})
    print(f"| image recogniser (same face crops) | {' | '.join(scores(v) for v in image.values())} | {share} | - |",
          flush=True)
    config = HeadTraining()
    for method, label in ROWS.items():
        if method not in chosen:
            continue
        if method == "mediapipe" and face_landmarker() is None:
            print(f"| {label} | not measured: the benchmark extra (requirements-bench.txt) is not installed |")
            continue
        train = [table(method, n) for n in TRAIN_SOURCES]
        net, _ = train_head((np.concatenate([t[0] for t in train]), np.concatenate([t[1] for t in train])),
                            table(method, SELECTION_SOURCE), config)

        cells, figures = [], {}
        for key, (name, rows) in {"wild_valid": ("wild_valid", None), "ferplus_test": ("ferplus_test", None),
                                  "ferplus_test_fitter_subset": ("ferplus_test", subset)}.items():
            if method == "fit" and key == "ferplus_test":
                cells.append("- (fitted: the subset only)")
                continue
            values, labels = table(method, name, rows)
            with torch.no_grad():
                probabilities = net(torch.from_numpy(values)).probabilities.numpy()
            figures[key] = score_values(probabilities, labels)
            cells.append(f"{scores(figures[key])} ({len(values)})")
        values = torch.from_numpy(table(method, "wild_valid")[0][:1])
        start = time.perf_counter()
        with torch.no_grad():
            for _ in range(200):
                net(values)
        ms = 1000 * (time.perf_counter() - start) / 200
        row_share = share if method != "mediapipe" else "of the cached crops: " + ", ".join(
            f"{100 * (~np.isnan(mediapipe_blendshapes(n)[:, 0])).mean():.1f}%" for n in REPORTED)
        record("geometry_emotion", {method: figures | {"mlp_ms": round(ms, 3)}})
        print(f"| {label} | {' | '.join(cells)} | {row_share} | {ms:.3f} |", flush=True)


if __name__ == "__main__":
    main()
