"""Faces in, landmarks out: detection, 478 dense points and 68 points for every face in an image."""

from dataclasses import dataclass, field

import numpy as np

from emoca.detect.detectors import DetectorConfig, FaceBox, FaceDetector
from emoca.detect.landmarks68 import LEARNED, Landmarks68
from emoca.detect.mesh import FaceMesher, MeshConfig


@dataclass
class LandmarkerConfig:
    """method_68: "dense", "dlib", "fused", or None for the learned default (see `landmarks68`)."""

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    mesh: MeshConfig = field(default_factory=MeshConfig)
    method_68: str | None = None


@dataclass
class FaceLandmarks:
    """One face in input-image pixels (x right, y down, 0 at the centre of the top-left pixel).

    box: (4,) x0, y0, x1, y1 from the detector. score: detector confidence. detector: "mediapipe" or
    "mtcnn". dense: (478, 3) MediaPipe points (z relative depth, smaller = nearer, pixel scale).
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
