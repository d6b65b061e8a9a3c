"""Reconstruction speed as a user waits for it, with the fitter (`--method fit`; the default method's speed
beside MediaPipe's: `bench_regressor_speed.py`).

Run: `.venv/bin/python benchmarks/bench_reconstruct.py` (part of `make bench`). Runs `emoca reconstruct`
itself on 1 + 6 London photos in one process and reads each photo's `timings_ms` from its params.json
(the first photo is the warm-up: the first call compiles and allocates): `total` is what the command
spends on the photo (read, detection + landmarks, fit, decoding, and writing mesh.obj, render.png and
overlay.png rendered at the photo's size, params.json); the process's start-up (loading the models) is
reported apart. Then the fit alone at batch 16 (`Reconstructor.reconstruct_batch`'s path). Target
(issue "emoca reconstruct"): <= 1.5 s for detection + landmarks + fit of one single-face photo. The
figures go to out/report/figures.json ("reconstruct_fit").
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from figures import record

from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.io.images import load_image
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.targets import FaceTargets

SINGLE, BATCH = 6, 16  # photos timed one at a time; faces predicted together


def command_timings(photos: list[Path]) -> tuple[list[dict], float]:
    """`timings_ms` of each photo after the first, and the process's wall time (s), from one CLI run."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("emoca")), "reconstruct", *map(str, photos), "--out", out,
                        "--method", "fit"],
                       check=True, capture_output=True)
        wall = time.perf_counter() - start
        timings = [json.loads((Path(out) / p.stem / "params.json").read_text())["faces"][0]["timings_ms"]
                   for p in photos[1:]]
    return timings, wall


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    torch.manual_seed(0)
    photos = sorted((HELEN.parent / "london" / "neutral").glob("*.jpg"))[:BATCH]
    timings, wall = command_timings(photos[:SINGLE + 1])
    median = {key: statistics.median(t[key] for t in timings) / 1000 for key in timings[0]}
    waited = statistics.median((t["total"] + t["write_outputs"]) / 1000 for t in timings)
    print(f"`emoca reconstruct`, one single-face photo (median of {SINGLE} London photos after a warm-up photo): "
          f"a user waits {waited:.2f} s per photo = timings_ms.total {median['total']:.2f} s (read + detection + "
          f"landmarks {median['detect']:.3f} s + fit {median['predict_per_face']:.2f} s + decoding "
          f"{median['decode_per_face']:.3f} s) + write_outputs {median['write_outputs']:.2f} s; the process took "
          f"{wall:.1f} s for {SINGLE + 1} photos (start-up included)")
    print(f"detection + landmarks + fit: {median['detect'] + median['predict_per_face']:.2f} s  [target <= 1.5 s]")
    reconstructor = Reconstructor(ReconstructorConfig(method="fit"))
    images = [load_image(p) for p in photos]
    targets = FaceTargets.concat([reconstructor.targets(image, reconstructor.landmarker(image)[:1])
                                  for image in images])
    start = time.perf_counter()
    reconstructor.predictor.predict(targets)
    rate = len(targets) / (time.perf_counter() - start)
    print(f"fit only, batch of {len(targets)} faces: {rate:.2f} faces/s")
    record("reconstruct_fit", {"one photo": {"waited_s": round(waited, 2), "total_s": round(median["total"], 2),
                                             "detect_s": round(median["detect"], 3),
                                             "fit_s": round(median["predict_per_face"], 2),
                                             "write_s": round(median["write_outputs"], 2)},
                               f"batch {len(targets)}": {"faces_per_second": round(rate, 2)}})


if __name__ == "__main__":
    main()
