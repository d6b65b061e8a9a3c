"""Video stability and lag.

1. The sample video (`../shared/data/video`): frame-to-frame jitter of the projected 68 landmarks of the
   reconstruction vs the detector's raw 68 points: mean absolute second difference over time, as % of the
   outer-eye-corner distance; over the whole video and over its second half (frames from `HELD_OUT`), which
   the choice of the video's settings (`tune_video.py`, first half only) never saw.
2. SYNTHETIC step: a rendered clip whose expression steps from neutral to jawOpen = 1 at frame 15; lag
   = frames between the step and the first frame whose fitted jawOpen passes 0.5.

Run: `.venv/bin/python benchmarks/bench_video.py [--method fit]` (part of `make bench`; default: the default
method's video). Targets (issue "emoca reconstruct"): the reconstruction's jitter at most half the
detector's; no lag beyond one frame. The figures go to
out/report/figures.json ("video_stability", a row per method).
"""

import argparse
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from figures import record

from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.facemodel.landmark_sets import outer_eye_distance
from emoca.io.video import VideoReader
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.pipeline.video import VideoReconstructor
from emoca.render.camera import weak_perspective
from emoca.render.renderer import Renderer, RendererConfig
from emoca.render.shading import default_light
from emoca.train.landmark_embedding import eye_albedo

STEP_AT, STEP_FRAMES, SIZE = 15, 30, 320
VIDEO = HELEN.parent / "video" / "WolfgangLanger_Pexels.mp4"
HELD_OUT = 236  # the first frame of the sample video's second half (472 frames)


def jitter(points: np.ndarray) -> float:
    """(T, 68, 2) -> mean |second difference| over time and points, % of the eye-corner distance."""
    eye = outer_eye_distance(points).mean()
    return 100 * np.abs(points[2:] - 2 * points[1:-1] + points[:-2]).sum(-1).mean() / eye


def detector_track(reconstructor: Reconstructor, images: Iterable[np.ndarray], raw: list) -> Iterator[np.ndarray]:
    """`images` passed on unchanged, while the detector alone tracks them (as the video pipeline does) and
    each frame's raw 68 points (or None) are appended to `raw`."""
    landmarker, track = reconstructor.landmarker, []
    for image in images:
        track = landmarker.track(image, track)[:1]  # detects afresh when there was no face
        raw.append(track[0].landmarks_68 if track else None)
        yield image


def paired_jitter(raw: list, fitted: list, start: int = 0) -> tuple[float, float, int]:
    """(detector, reconstruction) jitter over the frames from `start` where both have a face, and that count."""
    keep = [i for i in range(start, len(fitted)) if fitted[i] is not None and raw[i] is not None]
    return (float(jitter(np.array([raw[i] for i in keep]))), float(jitter(np.array([fitted[i] for i in keep]))),
            len(keep))


def sample_video(reconstructor: Reconstructor) -> dict:
    """The sample video's jitter, detector against reconstruction (printed and returned)."""
    reader, raw = VideoReader(VIDEO), []
    frames = VideoReconstructor(reconstructor).frames(detector_track(reconstructor, reader, raw), reader.fps)
    fitted = [None if frame.face is None else frame.face.landmarks_68 for frame in frames]
    row = {"frames": len(fitted)}
    for name, start in (("", 0), ("_second_half", HELD_OUT)):
        detector, mesh, count = paired_jitter(raw, fitted, start)
        print(f"sample video, frames {start}-{len(fitted) - 1} ({count} with a face): jitter of the 68 points, "
              f"detector {detector:.3f}%, reconstruction {mesh:.3f}% of the eye distance  [target: <= half]")
        row |= {f"with_face{name}": count, f"jitter_detector{name}": round(detector, 3),
                f"jitter_fitted{name}": round(mesh, 3), f"jitter_ratio{name}": round(mesh / detector, 3)}
    return row


def step_clip(reconstructor: Reconstructor) -> dict:
    """SYNTHETIC: the frames the fit lags a jawOpen step by (printed and returned; None: never crossed)."""
    model = reconstructor.model
    renderer = Renderer(model.triangles, config=RendererConfig(image_size=(SIZE, SIZE)))
    params = model.neutral_parameters(STEP_FRAMES)
    params["identity"] = torch.randn(1, model.n_identity, generator=torch.Generator().manual_seed(3)).expand(
        STEP_FRAMES, -1) * 0.7
    params["expression"][STEP_AT:, model.expression_index("jawOpen")] = 1.0
    with torch.no_grad():
        posed = model(**params).vertices
        screen = weak_perspective(posed, torch.full((STEP_FRAMES,), 0.065), torch.tensor([[0.0, 0.1]]).expand(
            STEP_FRAMES, -1), (SIZE, SIZE))
        images = renderer(posed, screen, eye_albedo(model), default_light(STEP_FRAMES)).image
    frames = [(image.permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8) for image in images]
    video = VideoReconstructor(reconstructor)
    jaw = [float(f.face.params.expression[0, model.expression_index("jawOpen")]) if f.face is not None else np.nan
           for f in video.frames(iter(frames), 24.0)]
    crossed = next((i for i in range(STEP_AT, STEP_FRAMES) if jaw[i] > 0.5), None)
    lag = "never" if crossed is None else f"{crossed - STEP_AT} frame(s)"
    print(f"SYNTHETIC step neutral -> jawOpen 1 at frame {STEP_AT}: fitted jawOpen passes 0.5 after {lag}; "
          f"before the step {np.nanmean(jaw[:STEP_AT]):.2f}, after {np.nanmean(jaw[STEP_AT + 2:]):.2f}  "
          "[target: lag <= 1 frame]")
    return {"lag_frames": None if crossed is None else crossed - STEP_AT}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default=None, help="the method whose video is measured (default: the default)")
    args = parser.parse_args()
    torch.manual_seed(0)
    reconstructor = Reconstructor(ReconstructorConfig(method=args.method))
    method = reconstructor.config.method
    print(f"--method {method}")
    record("video_stability", {f"SYNTHETIC jawOpen step, {method}": step_clip(reconstructor),
                               f"sample video, {method}": sample_video(reconstructor)})


if __name__ == "__main__":
    main()
