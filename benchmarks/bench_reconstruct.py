"""Reconstruction speed (the issue's other figures come with the video and synthetic benchmarks).

Run: `.venv/bin/python benchmarks/bench_reconstruct.py` (part of `make bench`). Target (issue
"emoca reconstruct"): <= 1.5 s per face for a single photo with the default schedule; faces/s of the
fit at batch 16 (reported).
"""

import statistics
import time

import torch

from emoca.commands.reconstruct import Reconstructor, fit_targets
from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.fit.photo import FitTargets
from emoca.io.images import load_image

SINGLE, BATCH = 6, 16  # photos timed one at a time; faces fitted together


def main() -> None:
    torch.manual_seed(0)
    reconstructor = Reconstructor()
    photos = sorted((HELEN.parent / "london" / "neutral").glob("*.jpg"))[:BATCH]
    images = [load_image(p) for p in photos]
    faces = [reconstructor.landmarker(image) for image in images]
    targets = [fit_targets(image, found[:1], reconstructor.crop)[0] for image, found in zip(images, faces, strict=True)]
    reconstructor.fitter.fit(targets[0])  # warm-up
    times = []
    for image, target in zip(images[:SINGLE], targets[:SINGLE], strict=True):
        start = time.perf_counter()
        reconstructor.landmarker(image)
        reconstructor.fitter.fit(target)
        times.append(time.perf_counter() - start)
    print(f"single photo, one face (detection + landmarks + fit), median of {len(times)}: "
          f"{statistics.median(times):.2f} s  [target <= 1.5 s]")
    batch = FitTargets.concat(targets)
    start = time.perf_counter()
    reconstructor.fitter.fit(batch)
    print(f"fit only, batch of {len(targets)} faces: {len(targets) / (time.perf_counter() - start):.2f} faces/s")


if __name__ == "__main__":
    main()
