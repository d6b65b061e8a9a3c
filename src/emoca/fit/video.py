"""Reconstruct a video: one identity for the person, per-frame expression and pose, streamed.

1. Landmarks: detection on the first frame (and whenever the face is lost), MediaPipe-style tracking
   from the previous frame otherwise; the main face (index 0) only. Dense and 68 points are smoothed
   with a One-Euro filter (jitter goes, fast motion passes: no lag).
2. Identity: the first `identity_frames` frames with a face are fitted jointly with one shared identity
   (a bounded buffer); it is then kept fixed.
3. Every later frame starts from the previous frame's result (a short schedule).
Memory stays bounded whatever the length: frames are decoded, fitted and written one at a time.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch

from emoca.detect.pipeline import FaceLandmarker, FaceLandmarks
from emoca.fit.image_space import camera_between_crops
from emoca.fit.photo import FitResult, FitTargets, PhotoFitter
from emoca.fit.smoothing import OneEuroConfig, OneEuroFilter


@dataclass
class VideoFitConfig:
    """identity_frames: frames fitted jointly for the shared identity. frame_steps: (pose, shape,
    appearance) steps per later frame. smoothing: the landmark filter (pixels, seconds)."""

    identity_frames: int = 8
    frame_steps: tuple[int, int, int] = (0, 16, 0)
    smoothing: OneEuroConfig = field(default_factory=OneEuroConfig)


@dataclass
class FrameResult:
    """One frame: its index, the image, the (smoothed) landmarks, the fit (batch of one) and the crop's
    (2, 3) crop-to-input map; `fit` is None when no face was found in the frame."""

    index: int
    image: np.ndarray
    face: FaceLandmarks | None
    fit: FitResult | None
    to_input: np.ndarray | None


class VideoFitter:
    """`for frame in fitter.frames(frames, fps): ...` yields a `FrameResult` per input frame, in order."""

    def __init__(self, landmarker: FaceLandmarker, fitter: PhotoFitter,
                 targets_for: Callable[[np.ndarray, list[FaceLandmarks]], tuple[FitTargets, np.ndarray]],
                 config: VideoFitConfig | None = None) -> None:
        self.landmarker, self.fitter, self.targets_for = landmarker, fitter, targets_for
        self.config = config or VideoFitConfig()

    def frames(self, frames: Iterator[np.ndarray], fps: float) -> Iterator[FrameResult]:
        smoothing = OneEuroFilter(fps, self.config.smoothing)
        previous: list[FaceLandmarks] = []
        identity: torch.Tensor | None = None
        last: FitResult | None = None  # the previous frame's fit, on the crop `last_to_input` maps from
        before: FitResult | None = None  # the frame before it: head rotation is predicted at constant speed
        last_to_input: np.ndarray | None = None
        buffer: list[tuple[int, np.ndarray, FaceLandmarks, FitTargets, np.ndarray]] = []
        for index, image in enumerate(frames):
            found = self.landmarker.track(image, previous[:1]) if previous else self.landmarker(image)
            previous = found[:1]
            if not found:
                smoothing.reset()
                last = before = None
                if identity is None:  # before the identity is settled, frames wait in the buffer in order
                    buffer.append((index, image, None, None, None))
                    if len(buffer) >= 4 * self.config.identity_frames:  # keep memory bounded
                        identity, last, last_to_input = yield from self._flush(buffer)
                        buffer = []
                else:
                    yield FrameResult(index, image, None, None, None)
                continue
            face = self._smoothed(found[0], smoothing)
            targets, to_input = self.targets_for(image, [face])
            if identity is None:
                buffer.append((index, image, face, targets, to_input[0]))
                if sum(item[2] is not None for item in buffer) == self.config.identity_frames:
                    identity, last, last_to_input = yield from self._flush(buffer)
                    buffer = []
                continue
            if last is None:  # the face came back: a full fit with the known identity
                last = self.fitter.fit(targets, identity=identity)
            else:
                start = self._start(last, before, last_to_input, to_input[0])
                before, last = last, self.fitter.fit(targets, start=start, identity=identity,
                                                     steps=self.config.frame_steps)
            last_to_input = to_input[0]
            yield FrameResult(index, image, face, last, last_to_input)
        if buffer:
            yield from self._flush(buffer)

    def _start(self, last: FitResult, before: FitResult | None, last_to_input: np.ndarray, to_input: np.ndarray
               ) -> FitResult:
        """The warm start of the next frame: the previous fit, its camera moved onto the new crop, the head
        rotation extrapolated at constant angular speed."""
        scale, offset = camera_between_crops(last.scale, last.offset, last_to_input[None], to_input[None],
                                             self.fitter.config.crop_size)
        rotation = last.rotation if before is None else 2 * last.rotation - before.rotation
        return replace(last, scale=scale, offset=offset, rotation=rotation)

    def _smoothed(self, face: FaceLandmarks, smoothing: OneEuroFilter) -> FaceLandmarks:
        points = smoothing(np.concatenate([face.dense[:, :2], face.landmarks_68]))
        dense = face.dense.copy()
        dense[:, :2] = points[:478]
        return FaceLandmarks(face.box, face.score, face.detector, dense, face.dense_source,
                             points[478:].astype(np.float32))

    def _flush(self, buffer: list) -> Iterator[FrameResult]:
        """Fit the buffered frames jointly (one identity), yield them in order; returns (identity, the last
        frame's fit, its crop-to-input map), None for each when no buffered frame has a face."""
        with_face = [item for item in buffer if item[2] is not None]
        joint = None
        if with_face:
            batch = FitTargets.concat([item[3] for item in with_face])
            joint = self.fitter.fit(batch, shared_identity=True)
        position = 0
        last, last_to_input = None, None
        for index, image, face, _, to_input in buffer:
            if face is None:
                yield FrameResult(index, image, None, None, None)
                continue
            last, last_to_input = _select(joint, position), to_input
            position += 1
            yield FrameResult(index, image, face, last, to_input)
        if buffer[-1][2] is None:  # the face was lost after the last fitted frame: no warm start from it
            last, last_to_input = None, None
        return (joint.identity[0] if joint is not None else None), last, last_to_input


def _select(result: FitResult, row: int) -> FitResult:
    """Row `row` of a batched result, as a batch of one."""
    pick = lambda t: t[row:row + 1]  # noqa: E731
    tensors = {part.name: pick(getattr(result, part.name)) for part in fields(FitResult) if part.name != "losses"}
    return FitResult(**tensors, losses={k: pick(v) for k, v in result.losses.items()})
