"""Reconstruct a video: one identity for the person, per-frame expression and pose, streamed.

1. Landmarks: detection on the first frame (and whenever the face is lost), MediaPipe-style tracking
   from the previous frame otherwise; the main face (index 0) only. Dense and 68 points are smoothed
   with a One-Euro filter (jitter goes, fast motion passes: no lag).
2. Identity: the first `identity_frames` frames with a face are fitted jointly with one shared identity
   (a bounded buffer); it is then kept fixed.
3. Every later frame starts from the previous frame's result (`init`: its camera moved onto the new
   crop, the head rotation extrapolated) and is pulled towards it (`anchor`, the fitter's temporal
   prior), with a short schedule.
Memory stays bounded whatever the length: frames are decoded, fitted and written one at a time.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from emoca.decode.image_space import camera_between_crops
from emoca.detect.pipeline import FaceLandmarks
from emoca.emotions import median_emotion
from emoca.face_params import FaceParams
from emoca.pipeline.photo import Face, Reconstructor
from emoca.predictors.protocol import Predictor
from emoca.predictors.smoothing import OneEuroConfig, OneEuroFilter
from emoca.targets import FaceTargets


@dataclass
class VideoConfig:
    """identity_frames: frames predicted jointly for the shared identity. frame_steps: (pose, shape,
    appearance, emotion) fitter steps per later frame for the fitting methods; emoca_frame_steps: the same
    for `--method emoca` (its emotion stage alone on each frame's regressor start, tuned on the sample
    video's first half: docs/emoca_method.md, video). smoothing: the landmark filter (pixels, seconds).
    expression_smoothing: a filter on each output frame's expression weights (weight units, seconds; None:
    off) for the other methods, emoca_expression_smoothing for `--method emoca` (its emotion stage moves
    each frame's expression on its own; the others meet the jitter target unfiltered, and a filter delays
    the regressor's response to a step by a frame); the warm start and anchor of the next frame stay
    unfiltered."""

    identity_frames: int = 8
    frame_steps: tuple[int, int, int, int] = (0, 16, 0, 3)
    emoca_frame_steps: tuple[int, int, int, int] = (0, 0, 0, 4)
    smoothing: OneEuroConfig = field(default_factory=OneEuroConfig)
    expression_smoothing: OneEuroConfig | None = None
    emoca_expression_smoothing: OneEuroConfig | None = field(default_factory=lambda: OneEuroConfig(1.0, 1.0))


@dataclass
class FrameResult:
    """One frame: its index, the image and its face (None when no face was found in the frame)."""

    index: int
    image: np.ndarray
    face: Face | None


@dataclass
class _Pending:
    """A frame waiting for the shared identity: its detection and targets (None: no face)."""

    index: int
    image: np.ndarray
    detection: FaceLandmarks | None = None
    targets: FaceTargets | None = None


def smoothed_landmarks(face: FaceLandmarks, smoothing: OneEuroFilter, dt: float | None = None) -> FaceLandmarks:
    """`face` with its dense (x, y) and 68 points passed through `smoothing` (one filter for the face;
    `dt`: seconds since the previous frame, None: the filter's rate)."""
    points = smoothing(np.concatenate([face.dense[:, :2], face.landmarks_68]), dt)
    dense = face.dense.copy()
    n_dense = len(dense)
    dense[:, :2] = points[:n_dense]
    return FaceLandmarks(face.box, face.score, face.detector, dense, face.dense_source,
                         points[n_dense:].astype(np.float32))


def smoothed_expression(params: FaceParams, smoothing: OneEuroFilter) -> FaceParams:
    """`params` (a batch of one) with its expression weights (and FLAME's jaw) passed through `smoothing`."""
    parts = [params.expression] + ([] if params.jaw is None else [params.jaw])
    values = torch.cat(parts, 1)
    smoothed = torch.as_tensor(smoothing(values.detach().cpu().numpy()), dtype=values.dtype).to(values.device)
    expression, jaw = smoothed.split([params.expression.shape[1], values.shape[1] - params.expression.shape[1]], 1)
    return params.replace(expression=expression, jaw=None if params.jaw is None else jaw)


def _faceless(index: int, image: np.ndarray, expression_filter: OneEuroFilter | None) -> FrameResult:
    """The result of a frame without a face (made in frame order): `expression_filter` forgets the past."""
    if expression_filter is not None:
        expression_filter.reset()
    return FrameResult(index, image, None)


def _with_median_emotion(result: FrameResult, window: list[FrameResult]) -> FrameResult:
    """`result` with its face's emotion replaced by the median over the faces of `window` (itself among
    them); unchanged when it has no face or no emotion."""
    face = result.face
    if face is None or face.emotion is None:
        return result
    emotions = [item.face.emotion for item in window if item.face is not None and item.face.emotion is not None]
    return replace(result, face=replace(face, emotion=median_emotion(emotions)))


class VideoReconstructor:
    """`for frame in video.frames(frames, fps): ...` yields a `FrameResult` per input frame, in order.

    The reconstructor's predictor settles the identity and restarts lost faces; later frames use
    `follow`: a fitter runs `config.frame_steps` from the previous frame (or, after the regressor, from
    its guess), pulled towards the previous frame; the regressor alone predicts each frame afresh with
    the shared identity."""

    def __init__(self, reconstructor: Reconstructor, config: VideoConfig | None = None) -> None:
        self.reconstructor = reconstructor
        self.config = config or VideoConfig()
        emoca = reconstructor.config.method == "emoca"
        steps = self.config.emoca_frame_steps if emoca else self.config.frame_steps
        self.follow: Predictor = reconstructor.predictor.per_frame(steps)
        self._expression_smoothing = self.config.emoca_expression_smoothing if emoca else \
            self.config.expression_smoothing

    def frames(self, frames: Iterator[np.ndarray], fps: float) -> Iterator[FrameResult]:
        """The result of every frame, in order; each face's emotion is the median over its own and its
        neighbouring frames' (a centred window of three, among the frames with a face), so results come
        one frame behind the input and a step in emotion passes without lag."""
        window: list[FrameResult] = []  # the last up to three results, the middle one about to be yielded
        for result in self._unsmoothed(frames, fps):
            window = [*window[-2:], result]
            if len(window) == 3 or (len(window) == 2 and window[0].index == 0):
                yield _with_median_emotion(window[-2], window)
        if window:
            yield _with_median_emotion(window[-1], window[-2:])

    def _unsmoothed(self, frames: Iterator[np.ndarray], fps: float) -> Iterator[FrameResult]:
        landmarker, predictor = self.reconstructor.landmarker, self.reconstructor.predictor
        smoothing = OneEuroFilter(fps, self.config.smoothing)
        expression = self._expression_smoothing
        expression_filter = None if expression is None else OneEuroFilter(fps, expression)  # this run's
        previous: list[FaceLandmarks] = []
        identity: torch.Tensor | None = None
        last: FaceParams | None = None  # the previous frame's result, on the crop `last_to_input` maps from
        before: FaceParams | None = None  # the frame before it: head rotation is predicted at constant speed
        last_to_input: np.ndarray | None = None
        buffer: list[_Pending] = []
        for index, image in enumerate(frames):
            found = landmarker.track(image, previous[:1])  # detects afresh when there was no face
            previous = found[:1]
            if not found:
                smoothing.reset()
                last = before = None
                if identity is None:  # before the identity is settled, frames wait in the buffer in order
                    buffer.append(_Pending(index, image))
                    if len(buffer) >= 4 * self.config.identity_frames:  # keep memory bounded
                        identity, last, last_to_input = yield from self._flush(buffer, expression_filter)
                        buffer = []
                else:
                    yield _faceless(index, image, expression_filter)
                continue
            detection = smoothed_landmarks(found[0], smoothing)
            targets = self.reconstructor.targets(image, [detection])
            to_input = targets.to_input[0]
            if identity is None:
                buffer.append(_Pending(index, image, detection, targets))
                if sum(item.detection is not None for item in buffer) == self.config.identity_frames:
                    identity, last, last_to_input = yield from self._flush(buffer, expression_filter)
                    buffer = []
                continue
            if last is None:  # the face came back: a full prediction with the known identity
                last = predictor.predict(targets, identity=identity)
            else:
                start = self._start(last, before, last_to_input, to_input)
                before, last = last, self.follow.predict(targets, init=start, anchor=start, identity=identity)
            last_to_input = to_input
            yield FrameResult(index, image, self._face(detection, last, last_to_input, expression_filter))
        if buffer:
            yield from self._flush(buffer, expression_filter)

    def _face(self, detection: FaceLandmarks, params: FaceParams, to_input: np.ndarray,
              expression_filter: OneEuroFilter | None) -> Face:
        """The output `Face` of one frame (called in frame order), its expression through `expression_filter`."""
        if expression_filter is not None:
            params = smoothed_expression(params, expression_filter)
        return self.reconstructor.faces([detection], params, to_input[None], {})[0]

    def _start(self, last: FaceParams, before: FaceParams | None, last_to_input: np.ndarray, to_input: np.ndarray
               ) -> FaceParams:
        """The warm start of the next frame: the previous result, its camera moved onto the new crop, the
        head rotation extrapolated at constant angular speed."""
        scale, offset = camera_between_crops(last.scale, last.offset, last_to_input[None], to_input[None],
                                             self.reconstructor.crop.size)
        rotation = last.rotation if before is None else 2 * last.rotation - before.rotation
        return last.replace(scale=scale, offset=offset, rotation=rotation)

    def _flush(self, buffer: list[_Pending], expression_filter: OneEuroFilter | None) -> Iterator[FrameResult]:
        """Predict the buffered frames jointly (one identity), yield them in order; returns (identity, the
        last frame's result, its crop-to-input map), None for each when no buffered frame has a face."""
        with_face = [item for item in buffer if item.detection is not None]
        joint = None
        if with_face:
            batch = FaceTargets.concat([item.targets for item in with_face])
            joint = self.reconstructor.predictor.predict(batch, shared_identity=True)
        position = 0
        last, last_to_input = None, None
        for item in buffer:
            if item.detection is None:
                yield _faceless(item.index, item.image, expression_filter)
                continue
            last, last_to_input = joint[position], item.targets.to_input[0]
            position += 1
            face = self._face(item.detection, last, last_to_input, expression_filter)
            yield FrameResult(item.index, item.image, face)
        if buffer[-1].detection is None:  # the face was lost after the last fitted frame: no warm start from it
            last, last_to_input = None, None
        return (joint.identity[0] if joint is not None else None), last, last_to_input
