"""A live stream (a webcam's frames, at whatever rate they come): per frame, the face's expression, gaze,
head rotation and emotion from the geometry, as soon as possible and with no look-ahead.

What a live frame needs is less than what a video frame written to files needs: no mesh, no render, no
texture, and no waiting for later frames. Per frame:

1. Landmarks tracked from the previous frame (detection on the first frame and whenever the face is
   lost), smoothed by a One-Euro filter driven by the frames' own times (they come unevenly).
2. The predictor (`--method regress`: one forward pass) with the person's identity held: the mean of the
   regressor's identities over the first `identity_frames` frames of a sighting, then fixed until the
   face is lost (a face that comes back may be someone else).
3. The gaze from the iris points (a points-only decoding) setting ICT's eyeLook weights, as for photos;
   the emotion from the expression (`emoca.nets.geometry_emotion`).
"""

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from emoca.decode.decoder import FaceDecoder
from emoca.detect.pipeline import FaceLandmarks
from emoca.emotions import FaceEmotion
from emoca.pipeline.photo import Reconstructor
from emoca.pipeline.video import smoothed_landmarks
from emoca.predictors.smoothing import OneEuroConfig, OneEuroFilter


@dataclass
class LiveConfig:
    """identity_frames: frames whose regressed identities are averaged into the person's. smoothing: the
    landmark filter (pixels, seconds); its nominal rate (Hz) only for the first step. torch_threads:
    torch's threads during a frame (restored after; None: leave them), since a live frame's small
    tensors gain little from a second thread that the browser's drawing on the same machine needs."""

    identity_frames: int = 5
    smoothing: OneEuroConfig = field(default_factory=OneEuroConfig)
    nominal_fps: float = 15.0
    torch_threads: int | None = 1


@dataclass
class LiveFrame:
    """One answered frame. time_s: the frame's capture time (seconds, the caller's clock). found: a face
    was found. expression: (E,) the model's expression weights (`names` order; eyeLook from the gaze).
    rotation: (3,) head rotation, axis-angle radians in the model's axes. gaze: (2,) [yaw, pitch]
    radians or None. emotion: from the expression (None without a head for the method). timings_ms:
    landmarks, predict, gaze_emotion, total."""

    time_s: float
    found: bool
    expression: np.ndarray | None = None
    rotation: np.ndarray | None = None
    gaze: np.ndarray | None = None
    emotion: FaceEmotion | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


class LiveTracker:
    """`tracker(image, time_s)` -> `LiveFrame`, one stream's state (previous landmarks, smoothing, the
    identity). One tracker per stream; the reconstructor's models are shared and not re-entrant, so calls
    from several streams must be serialised by the caller."""

    def __init__(self, reconstructor: Reconstructor, config: LiveConfig | None = None) -> None:
        self.reconstructor = reconstructor
        self.config = config or LiveConfig()
        self.names = tuple(reconstructor.model.expression_names)
        self._smoothing = OneEuroFilter(self.config.nominal_fps, self.config.smoothing)
        self.reset()

    def reset(self) -> None:
        """Forget the face (its landmarks, smoothing and identity)."""
        self._previous: list[FaceLandmarks] = []
        self._identities: list[torch.Tensor] = []
        self._last_time: float | None = None
        self._smoothing.reset()

    @property
    def identity(self) -> torch.Tensor | None:
        """(K,) the person's identity once `identity_frames` frames have settled it, else None."""
        if len(self._identities) < self.config.identity_frames:
            return None
        return torch.stack(self._identities).mean(0)

    def __call__(self, image: np.ndarray, time_s: float) -> LiveFrame:
        """One (H, W, 3) uint8 RGB frame captured at `time_s` (seconds, increasing)."""
        threads = torch.get_num_threads()
        if self.config.torch_threads is not None:
            torch.set_num_threads(self.config.torch_threads)
        try:
            return self._frame(image, time_s)
        finally:
            torch.set_num_threads(threads)

    @torch.no_grad()
    def _frame(self, image: np.ndarray, time_s: float) -> LiveFrame:
        started = time.perf_counter()
        reconstructor = self.reconstructor
        landmarker = reconstructor.landmarker
        found = landmarker.track(image, self._previous)  # detects afresh when there was no face
        self._previous = found[:1]
        if not found:
            self.reset()
            return LiveFrame(time_s, False, timings_ms={"total": _ms(started)})
        dt = None if self._last_time is None else max(time_s - self._last_time, 1e-3)
        self._last_time = time_s
        detection = smoothed_landmarks(found[0], self._smoothing, dt)
        targets = reconstructor.targets(image, [detection])
        landmarks = time.perf_counter()
        identity = self.identity
        params = reconstructor.predictor.predict(targets, identity=identity)
        if identity is None:
            self._identities.append(params.identity[0])
        predicted = time.perf_counter()
        decoder: FaceDecoder = reconstructor.decoder
        points = decoder.decode(params.to(decoder.device), mesh=False).cpu()
        emotion = reconstructor.emotions(params)[0]  # from the predicted expression, as for photos
        gaze = reconstructor.gaze(detection, params[0], points[0], targets.to_input[0])
        params = reconstructor.looking(params, [gaze])
        timings = {"landmarks": 1000 * (landmarks - started), "predict": 1000 * (predicted - landmarks),
                   "gaze_emotion": _ms(predicted), "total": _ms(started)}
        return LiveFrame(time_s, True, params.expression[0].numpy().copy(), params.rotation[0].numpy().copy(),
                         gaze, emotion, timings)


def _ms(since: float) -> float:
    return 1000 * (time.perf_counter() - since)
