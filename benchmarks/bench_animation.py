"""Speed of `emoca animate` and `emoca export` on the sample video (472 frames, 640x360, 20 s, with audio).

1. The video and the target photo (London smiling/001) are reconstructed once with `--method regress`
   (kept under out/benchmarks/animation; delete it to redo).
2. `animate` of the video's params.jsonl onto the photo's params.json: the time after the reconstruction
   (the target's render at the default 384 px, the source's own face rendered for the left panel, both
   videos encoded, the GLB written), in frames per second.
3. `animate` straight from the video (reconstruction and animation in one pass), for comparison.
4. `export` of the capture: arkit-csv and glb (all frames), obj-seq (the first 50 frames).

Run: `.venv/bin/python benchmarks/bench_animation.py` (part of `make bench`); run it alone (timings).
Target (issue "Animation"): animate of the sample video >= 10 frames/s after its reconstruction. The
figures go to out/report/figures.json ("animation").
"""

import argparse
import tempfile
import time
from pathlib import Path

from figures import record

from emoca.cli import main as emoca

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
VIDEO = SHARED / "video" / "WolfgangLanger_Pexels.mp4"
PHOTO = SHARED / "london" / "smiling" / "001.jpg"
OUT = Path(__file__).resolve().parents[1] / "out" / "benchmarks" / "animation"


def timed(label: str, frames: int, run) -> dict:
    """Run `run()` once; print and return its seconds and frames per second."""
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    print(f"  {label}: {seconds:.1f} s, {frames / seconds:.1f} frames/s")
    return {"frames": frames, "seconds": round(seconds, 1), "fps": round(frames / seconds, 1)}


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    capture, target = OUT / VIDEO.stem / "params.jsonl", OUT / PHOTO.stem / "params.json"
    if not (capture.exists() and target.exists()):
        emoca(["reconstruct", str(VIDEO), str(PHOTO), "--out", str(OUT), "--method", "regress"])
    frames = len(capture.read_text().splitlines())
    print(f"sample video, {frames} frames, reconstructed with --method regress; this machine, nothing else running:")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        rows = {"animate after reconstruction": timed(
            "animate params.jsonl -> photo's params.json (after the reconstruction)  [target >= 10 frames/s]",
            frames, lambda: emoca(["animate", str(capture), "--target", str(target), "--out", str(work / "a")]))}
        rows["animate from the video"] = timed(
            "animate the video itself -> photo (reconstruction included)", frames,
            lambda: emoca(["animate", str(VIDEO), "--target", str(PHOTO), "--out", str(work / "b")]))
        for kind, file in (("arkit-csv", "t.csv"), ("glb", "t.glb")):
            rows[f"export {kind}"] = timed(f"export {kind}", frames, lambda kind=kind, file=file: emoca(
                ["export", str(capture), "--format", kind, "--out", str(work / file)]))
        short = work / "short.jsonl"
        short.write_text("".join(capture.read_text().splitlines(keepends=True)[:50]))
        rows["export obj-seq"] = timed("export obj-seq (first 50 frames)", 50, lambda: emoca(
            ["export", str(short), "--format", "obj-seq", "--out", str(work / "seq")]))
    record("animation", rows)


if __name__ == "__main__":
    main()
