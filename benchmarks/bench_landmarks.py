"""Landmark numbers: 68-point NME on HELEN's testset for every method, cumulative error curves, speed,
and the detection rate on the London photos.

Run: `.venv/bin/python benchmarks/bench_landmarks.py` (part of `make bench`). Writes
`out/benchmarks/ced_helen.png`. Targets (issue "Faces in, landmarks and crops out"): mean NME over faces
with NME <= 10% at most 2.4% and failures at most 2%; detection + 478 + 68 points at most 20 ms per
640-px photo; London detection rate 100%.
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from figures import ROOT, record

from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.datasets.helen import helen_split, nme
from emoca.detect.pipeline import FaceLandmarker
from emoca.io.images import load_image

OUT = ROOT / "out" / "benchmarks"
METHODS = ("dense", "dlib", "fused")


def helen_errors(landmarker: FaceLandmarker) -> dict[str, np.ndarray]:
    """Per-photo NME (the best face of each photo; inf when none is found) for each method and for dlib's
    own pipeline (HOG detector, upsample 1, then its 68-point predictor)."""
    import dlib

    hog = dlib.get_frontal_face_detector()
    errors: dict[str, list[float]] = {m: [] for m in (*METHODS, "dlib_own")}
    for path, truth in helen_split("testset"):
        image = load_image(path)
        faces = [landmarker.mesher(image, box) for box in landmarker.detector(image)]
        for method in METHODS:
            errors[method].append(min((nme(landmarker.landmarks_68(image, f.points, method), truth)
                                       for f in faces if f.source != "none"), default=np.inf))
        own = [landmarker.landmarks_68.dlib.predict_in_box(image, np.array([r.left(), r.top(), r.right(), r.bottom()]),
                                                           mirror_average=False) for r in hog(image, 1)]
        errors["dlib_own"].append(min((nme(p, truth) for p in own), default=np.inf))
    return {k: np.asarray(v) for k, v in errors.items()}


def plot_ced(errors: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    thresholds = np.linspace(0, 0.10, 201)
    figure, axes = plt.subplots(figsize=(6, 4.5))
    for name, values in errors.items():
        axes.plot(100 * thresholds, [(values <= t).mean() for t in thresholds], label=name)
    axes.set_xlabel("NME (% of outer-eye-corner distance)")
    axes.set_ylabel("fraction of HELEN test photos")
    axes.set_title("Cumulative error, 68 points, HELEN testset (330)")
    axes.grid(alpha=0.3)
    axes.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")


def timing_ms(landmarker: FaceLandmarker, photos: list[Path]) -> float:
    """Median ms for detection + 478 + 68 points per photo, after a warm-up pass over all photos."""
    images = [load_image(p) for p in photos]
    for image in images:
        landmarker(image)
    times = []
    for image in images:
        start = time.perf_counter()
        landmarker(image)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    landmarker = FaceLandmarker()
    print(f"68-point default method: {landmarker.landmarks_68.default}")
    errors = helen_errors(landmarker)
    rows = {}
    for name, values in errors.items():
        ok = values <= 0.10
        rows[name] = {"helen_test_nme": round(100 * values[ok].mean(), 2), "failure": round(100 * (1 - ok.mean()), 1)}
        print(f"HELEN test {name:8s}: mean NME (<=10%) {rows[name]['helen_test_nme']:.2f}%, "
              f"failure {rows[name]['failure']:.1f}%  [targets <= 2.4%, <= 2%]")
    plot_ced(errors, OUT / "ced_helen.png")
    print(f"cumulative error curves: {OUT / 'ced_helen.png'}")
    london = sorted((HELEN.parent / "london").glob("*/*.jpg"))
    found = sum(bool(landmarker(load_image(p))) for p in london)
    ms = timing_ms(landmarker, london[:40])
    print(f"London detection rate: {found}/{len(london)} = {100 * found / len(london):.1f}%  [target 100%]")
    print(f"detection + 478 + 68 points, 640-px London photos, median of {len(london[:40])}: "
          f"{ms:.1f} ms/photo  [target <= 20 ms]")
    rows["detector"] = {"london_found": round(100 * found / len(london), 1), "photo_ms": round(ms, 1)}
    record("landmarks", rows, {"cumulative error, 68 points, HELEN test": OUT / "ced_helen.png"})


if __name__ == "__main__":
    main()
