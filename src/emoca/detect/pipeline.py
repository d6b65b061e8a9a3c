"""Faces in, landmarks out: detection, 478 dense points and 68 points for every face in an image."""

from dataclasses import dataclass, field

import numpy as np

from emoca.detect.detectors import DetectorConfig, FaceBox, FaceDetector
from emoca.detect.landmarks68 import LEARNED, Landmarks68
from emoca.detect.mesh import DenseLandmarks, FaceMesher, MeshConfig


@dataclass
class LandmarkerConfig:
    """method_68: "dense", "dlib", "fused", or None for the learned default (see `landmarks68`)."""

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    mesh: MeshConfig = field(default_factory=MeshConfig)
    method_68: str | None = None


@dataclass
class FaceLandmarks:
    """One face in input-image pixels (x right, y down, 0 at the centre of the top-left pixel).

    box: (4,) x0, y0, x1, y1 from the detector (in tracking, the dense points' bounds). score: detector
    confidence. detector: "mediapipe", "mtcnn", or "tracking" (followed from the previous frame).
    dense: (478, 3) MediaPipe points (z relative depth, smaller = nearer, pixel scale).
    dense_source: "direct" or "graph" (see `emoca.detect.mesh`). landmarks_68: (68, 2) iBUG order.
    """

    box: np.ndarray
    score: float
    detector: str
    dense: np.ndarray
    dense_source: str
    landmarks_68: np.ndarray


class FaceLandmarker:
    """`landmarker(image)` -> list of `FaceLandmarks`, best detection first."""

    def __init__(self, config: LandmarkerConfig | None = None) -> None:
        self.config = config or LandmarkerConfig()
        self.detector = FaceDetector(self.config.detector)
        self.mesher = FaceMesher(self.config.mesh)
        self.landmarks_68 = Landmarks68.load(LEARNED)

    def landmarks_for(self, image: np.ndarray, face: FaceBox) -> FaceLandmarks | None:
        """Dense and 68 points of one detected face; None when no landmark model accepts it."""
        dense = self.mesher(image, face)
        if dense.source == "none":
            return None
        points = self.landmarks_68(image, dense.points, self.config.method_68)
        return FaceLandmarks(face.box, face.score, face.detector, dense.points, dense.source,
                             points.astype(np.float32))

    def __call__(self, image: np.ndarray) -> list[FaceLandmarks]:
        """(H, W, 3) uint8 RGB -> every face with its landmarks."""
        faces = (self.landmarks_for(image, face) for face in self.detector(image))
        return [face for face in faces if face is not None]

    def track(self, image: np.ndarray, previous: list[FaceLandmarks]) -> list[FaceLandmarks]:
        """Video mode: follow last frame's faces from their dense points (no detector), as MediaPipe's
        tracking does; detect afresh when there were none or any face is lost."""
        tracked = []
        for face in previous:
            dense = self.mesher.track(image, DenseLandmarks(face.dense, face.score, face.dense_source))
            if dense.source == "none":
                return self(image)
            low, high = dense.points[:468, :2].min(0), dense.points[:468, :2].max(0)
            points = self.landmarks_68(image, dense.points, self.config.method_68)
            tracked.append(FaceLandmarks(np.concatenate([low, high]), face.score, "tracking", dense.points,
                                         dense.source, points.astype(np.float32)))
        return tracked or self(image)
