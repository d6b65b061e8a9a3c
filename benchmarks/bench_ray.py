"""Ray Data vs the local path for `emoca reconstruct` on this machine: throughput and per-task overhead.

Reconstructs `--photos` London photos (and three times as many) with `--method regress`: locally (one process,
all cores), and on a local Ray instance with 1 worker (all cores) and 2 workers (one core each). Each
configuration runs as the command a user types (a fresh process: model loading and, for Ray, starting
the instance are part of its time); a line `time = fixed + per-photo x N` through the two sizes splits
the fixed cost (start-up, models loaded per worker) from the cost per photo (a difference of two
totals: about +-2 s of noise in the fixed part, so the larger size must be large). The median time a
photo takes inside its worker (`timings_ms` total + write_outputs of params.json) is printed beside it:
the per-photo cost over the in-worker time is what Ray's scheduling adds per task.

Run: `.venv/bin/python benchmarks/bench_ray.py [--photos 24]` (part of `make bench`; about 6 minutes;
nothing else running). Figures: ratios, on this 2-core machine (issue "Beyond one machine").
The figures go to out/report/figures.json ("ray").
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import record

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "london"


def run(inputs: Path, out: Path, engine: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "emoca.cli", "reconstruct", str(inputs), "--out", str(out), "--method",
                    "regress", *engine], check=True, capture_output=True)
    return time.perf_counter() - start


def _in_worker(params: Path) -> float:
    """Seconds one photo took inside its process: reconstruction and writing its outputs."""
    timings = json.loads(params.read_text())["faces"][0]["timings_ms"]
    return (timings["total"] + timings["write_outputs"]) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=24)
    args = parser.parse_args()
    engines = {"local, 1 process x 2 threads": [],
               "ray, 1 worker x 2 threads": ["--engine", "ray", "--workers", "1", "--threads", "2"],
               "ray, 2 workers x 1 thread": ["--engine", "ray", "--workers", "2", "--threads", "1"]}
    photos = sorted(SHARED.glob("*/*.jpg"))
    with tempfile.TemporaryDirectory() as folder:
        sizes = (args.photos, 3 * args.photos)
        for size in sizes:
            (Path(folder) / f"in{size}").mkdir()
            for photo in photos[:size]:
                (Path(folder) / f"in{size}" / f"{photo.parent.name}_{photo.name}").symlink_to(photo)
        costs, rows = {}, {}
        for name, engine in engines.items():
            times = [run(Path(folder) / f"in{size}", Path(folder) / f"out_{len(costs)}_{size}", engine)
                     for size in sizes]
            per_photo = (times[1] - times[0]) / (sizes[1] - sizes[0])
            costs[name] = per_photo
            inside = statistics.median(_in_worker(path) for path in (Path(folder) / f"out_{len(costs) - 1}_{sizes[1]}"
                                                                       ).glob("*/params.json"))
            rows[name] = {"fixed_s": round(times[0] - per_photo * sizes[0], 1), "photo_s": round(per_photo, 2),
                          "photo_in_worker_s": round(inside, 2)}
            print(f"  {name}: {times[0]:.1f} s for {sizes[0]} photos, {times[1]:.1f} s for {sizes[1]}; "
                  f"fixed {times[0] - per_photo * sizes[0]:.1f} s + {per_photo:.2f} s a photo "
                  f"({1 / per_photo:.2f} photos/s); a photo inside its worker {inside:.2f} s")
    local = costs["local, 1 process x 2 threads"]
    print("per-photo cost over the local path's: " + ", ".join(f"{name} {cost / local:.2f}x"
                                                              for name, cost in costs.items() if cost != local))
    for name, cost in costs.items():
        rows[name]["over_local"] = round(cost / local, 2)
    record("ray", rows)


if __name__ == "__main__":
    main()
