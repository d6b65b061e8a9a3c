"""Choosing the video's settings (`VideoConfig`: the frame steps, the expression filter) on the sample video.

For each schedule (pose/shape/appearance/emotion steps of every frame after the identity's) and each
filter of the output expression (One-Euro min_cutoff/beta, or off), over the
first `--frames` frames of `../shared/data/video` (at most its first half: `bench_video.py` reports the second
half as held out):
our recogniser's class agreement and mean feature distance between each frame's crop and the render of
its reconstruction over that crop (as `tune_emoca.py` scores photos); the 68-point error of the
reconstruction from the detector's (smoothed) points the fit sees, % of the outer-eye-corner distance
(`emoca.datasets.helen.nme`); the jitter of the reconstruction's 68 points beside the raw detector's
(`bench_video.paired_jitter`, the target there: at most half); and the reconstruction's milliseconds a frame (the
pipeline's own time with a second, raw detection pass of about 10 ms; scoring excluded). The judge plays no part.

Run: `.venv/bin/python benchmarks/tune_video.py [--frames 236] [--schedules 0/16/0/3] [--smoothing off 1/1]
[--method emoca]`.
"""

import argparse
import time
from dataclasses import replace
from itertools import islice

import numpy as np
import torch
from bench_video import HELD_OUT, VIDEO, detector_track, paired_jitter

from emoca.datasets.helen import nme
from emoca.io.video import VideoReader
from emoca.nets.emotion import load_emotion_net
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.pipeline.video import VideoConfig, VideoReconstructor
from emoca.predictors.emotion_term import EmotionConsistency
from emoca.predictors.smoothing import OneEuroConfig


def run(reconstructor: Reconstructor, recogniser: EmotionConsistency, config: VideoConfig, frames: int,
        label: str) -> str:
    """One video configuration's line, starting with `label` (see the module docstring)."""
    reader = VideoReader(VIDEO)
    video = VideoReconstructor(reconstructor, config)
    raw: list = []
    results = video.frames(detector_track(reconstructor, islice(iter(reader), frames), raw), reader.fps)
    decoder, seconds = reconstructor.decoder, 0.0
    agree, distance, errors, points = [], [], [], []
    while True:
        start = time.perf_counter()
        result = next(results, None)
        seconds += time.perf_counter() - start
        if result is None:
            break
        face = result.face
        points.append(None if face is None else face.landmarks_68)
        if face is None:
            continue
        targets = reconstructor.targets(result.image, [face.detection])
        with torch.no_grad():
            params = face.params
            rendered = decoder.render(params, decoder.decode(params), targets.images.shape[-1],
                                      background=targets.images).image
            photo, render = recogniser.net.predict(targets.images), recogniser.net.predict(rendered)
            agree.append(bool(photo.probabilities.argmax(-1) == render.probabilities.argmax(-1)))
            distance.append(float(recogniser(rendered, recogniser.target(targets.images))))
        errors.append(nme(face.landmarks_68, face.detection.landmarks_68))
    detector, mesh, count = paired_jitter(raw, points)
    return (f"{label} agreement {100 * np.mean(agree):.1f}% "
            f"distance {np.mean(distance):.4f}; 68 points "
            f"from the detector's {100 * np.mean(errors):.2f}%; jitter {mesh:.3f}% (detector {detector:.3f}%); "
            f"{1000 * seconds / frames:.0f} ms a frame ({count} faces)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=HELD_OUT, choices=range(3, HELD_OUT + 1), metavar="N",
                        help=f"the first N frames (3-{HELD_OUT}: the rest is held out)")
    parser.add_argument("--schedules", nargs="+", help="pose/shape/appearance/emotion steps (default: the method's)")
    parser.add_argument("--smoothing", nargs="+", default=["1/1"],
                        help="min_cutoff/beta of the method's `VideoConfig` expression filter, or off")
    parser.add_argument("--method", default="emoca", help="the method whose video is scored (regress: no schedule)")
    args = parser.parse_args()
    reconstructor = Reconstructor(ReconstructorConfig(method=args.method))
    recogniser = EmotionConsistency(load_emotion_net())
    prefix = "emoca_" if reconstructor.config.method == "emoca" else ""
    steps_field, smoothing_field = f"{prefix}frame_steps", f"{prefix}expression_smoothing"
    for schedule in args.schedules or ["/".join(map(str, getattr(VideoConfig(), steps_field)))]:
        for smoothing in args.smoothing:
            cutoff, _, beta = smoothing.partition("/")
            steps = tuple(int(v) for v in schedule.split("/"))
            filtered = None if smoothing == "off" else OneEuroConfig(float(cutoff), float(beta))
            config = replace(VideoConfig(), **{steps_field: steps, smoothing_field: filtered})
            label = f"{schedule:10s} expression smoothing {smoothing:8s}"
            print(run(reconstructor, recogniser, config, args.frames, label), flush=True)


if __name__ == "__main__":
    main()
