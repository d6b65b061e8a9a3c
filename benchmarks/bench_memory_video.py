"""Memory over a long video: resident memory of `emoca reconstruct` at minute 1 and minute 10 of a
synthetic 10-minute video (a London face drifting and changing scale over a grey background, 192x192
at 5 frames/s: 3,000 frames, made here, nothing stored).

Then `emoca animate` of its params.jsonl onto the neutral face, and `emoca export` of it as GLB and as
ARKit CSV, each metered the same way (at the capture's frames that start minute 1 and end minute 10).

Run: `.venv/bin/python benchmarks/bench_memory_video.py [--method regress] [--minutes 10]` (part of
`make bench`). Target (issues "Hardening" and "Animation"): resident memory grows by at most 50 MB
between minute 1 and minute 10. The writer runs in this process (`OutputWriter.video`, what the command
calls); resident memory is read from /proc at the frames that start minute 1 and end minute 10.
The figures go to out/report/figures.json ("memory_video").
"""

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from figures import record
from PIL import Image

import emoca.output.writer as writer_module
from emoca.cli import main as emoca_main
from emoca.io.video import VideoReader
from emoca.output.capture import Capture
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig

FACE = Path(__file__).resolve().parents[2] / "shared" / "data" / "london" / "smiling" / "001.jpg"
SIZE, FPS = 192, 5


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synthetic_video(path: Path, minutes: float) -> int:
    """Write the drifting-face video; returns its frame count."""
    face = Image.open(FACE).convert("RGB")
    frames = int(minutes * 60 * FPS)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            t = index / FPS
            side = int(150 + 20 * np.sin(t / 7))
            canvas = Image.new("RGB", (SIZE, SIZE), (110, 110, 110))
            offset = (int((SIZE - side) / 2 + 10 * np.sin(t / 3)), int((SIZE - side) / 2 + 8 * np.cos(t / 5)))
            canvas.paste(face.resize((side, side)), offset)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(canvas), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return frames


def meter_captures(marks: dict[int, str], memory: dict[str, float]) -> None:
    """Make every `Capture` read resident memory when its frames reach `marks` (frame index -> label)."""
    frames = Capture.frames

    def metered(self):
        for frame in frames(self):
            if frame.index in marks:
                memory[marks[frame.index]] = resident_mb()
            yield frame

    Capture.frames = metered


def growth(memory: dict[str, float], minutes: float) -> tuple[str, float]:
    """Resident memory from minute 1 to the last minute: a line to print, and the growth (MB)."""
    first, last = memory.get("minute 1", float("nan")), memory.get(f"minute {minutes:g}", float("nan"))
    return (f"{first:.0f} MB at minute 1, {last:.0f} MB at minute {minutes:g}: growth {last - first:+.1f} MB "
            "(target <= 50)"), round(last - first, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="regress")
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    marks = {int(60 * FPS): "minute 1", int(args.minutes * 60 * FPS) - 1: f"minute {args.minutes:g}"}
    memory: dict[str, float] = {}

    class MeteredReader(VideoReader):
        def __iter__(self):
            for index, frame in enumerate(super().__iter__()):
                if index in marks:
                    memory[marks[index]] = resident_mb()
                yield frame

    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / "long.mp4"
        frames = synthetic_video(video, args.minutes)
        writer_module.VideoReader = MeteredReader  # the writer reads through the metered reader
        writer = writer_module.OutputWriter(Reconstructor(ReconstructorConfig(method=args.method)))
        start = time.perf_counter()
        written = writer.video(video, Path(folder) / "out")
        seconds = time.perf_counter() - start
        line, grown = growth(memory, args.minutes)
        print(f"{frames} frames ({args.minutes:g} min at {FPS} fps, {SIZE}x{SIZE}), reconstruct --method "
              f"{args.method}: {written} written in {seconds:.0f} s; resident memory {line}")
        rows = {f"reconstruct --method {args.method}": {"minutes": args.minutes, "frames": frames,
                                                        "seconds": round(seconds), "memory_growth_mb": grown}}
        capture = Path(folder) / "out" / "params.jsonl"
        meter_captures(marks, memory)
        for name, argv in (
                ("animate (target neutral, 256 px)",
                 ["animate", str(capture), "--target", "neutral", "--out", str(Path(folder) / "animate"),
                  "--size", "256"]),
                ("export glb", ["export", str(capture), "--format", "glb", "--out", str(Path(folder) / "a.glb")]),
                ("export arkit-csv", ["export", str(capture), "--format", "arkit-csv",
                                      "--out", str(Path(folder) / "a.csv")])):
            memory.clear()
            start = time.perf_counter()
            emoca_main(argv)
            seconds = time.perf_counter() - start
            line, grown = growth(memory, args.minutes)
            print(f"  {name}: {seconds:.0f} s; resident memory {line}")
            rows[name] = {"minutes": args.minutes, "seconds": round(seconds), "memory_growth_mb": grown}
    record("memory_video", rows)


if __name__ == "__main__":
    main()
