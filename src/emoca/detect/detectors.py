"""Face detectors: MediaPipe's full-range BlazeFace first, MTCNN (facenet-pytorch) as the fallback.

Both ship their weights inside their wheels. MediaPipe's short-range model misses small, distant and
turned faces; its full-range model finds most; MTCNN runs only on images where MediaPipe found nothing
(it costs about 0.1-0.25 s per 640-px photo here).
"""

from dataclasses import dataclass

import numpy as np

from emoca.detect.blazeface import BlazeFaceFullRange


@dataclass
class FaceBox:
    """One detected face in input-image pixels (x right, y down, origin at the top-left image corner).

    box: (4,) x0, y0, x1, y1. score: detector confidence in [0, 1]. detector: which detector found it.
    eyes: (2, 2) the subject's right and left eye centres (x, y), as the detector estimates them.
    """

    box: np.ndarray
    score: float
    detector: str
    eyes: np.ndarray


@dataclass
class DetectorConfig:
    """min_score: MediaPipe's acceptance threshold. mtcnn_min_score: MTCNN's. fallback: run MTCNN when
    MediaPipe finds no face. max_faces: keep at most this many faces, best first."""

    min_score: float = 0.5
    mtcnn_min_score: float = 0.9
    fallback: bool = True
    max_faces: int = 8


class MediaPipeDetector:
    """BlazeFace full-range (MediaPipe's model, run directly: see `emoca.detect.blazeface`)."""

    name = "mediapipe"

    def __init__(self, min_score: float) -> None:
        self._detector = BlazeFaceFullRange(min_score)

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        return [FaceBox(box, score, self.name, keypoints[:2]) for box, keypoints, score in self._detector(image)]


class MTCNNDetector:
    """MTCNN from facenet-pytorch (P/R/O-Net weights in the wheel), on the CPU."""

    name = "mtcnn"

    def __init__(self, min_score: float) -> None:
        from emoca.detect.torchvision_standin import install

        install()
        from facenet_pytorch import MTCNN

        self._mtcnn = MTCNN(keep_all=True, device="cpu")
        self.min_score = min_score

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        if min(image.shape[:2]) < self._mtcnn.min_face_size:  # no pyramid level fits: MTCNN would fail
            return []
        boxes, scores, points = self._mtcnn.detect(image, landmarks=True)
        if boxes is None:
            return []
        boxes, points = np.asarray(boxes, np.float32), np.asarray(points, np.float32)  # object arrays on numpy 2
        return [FaceBox(boxes[i], float(scores[i]), self.name, points[i, :2])  # points: left-to-right in image
                for i in range(len(boxes)) if scores[i] >= self.min_score]


class FaceDetector:
    """Every face in an RGB image: MediaPipe first, MTCNN where MediaPipe finds none."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self._primary = MediaPipeDetector(self.config.min_score)
        self._fallback: MTCNNDetector | None = None

    def __call__(self, image: np.ndarray) -> list[FaceBox]:
        """(H, W, 3) uint8 RGB -> faces, best score first."""
        faces = self._primary(image)
        if not faces and self.config.fallback:
            if self._fallback is None:
                self._fallback = MTCNNDetector(self.config.mtcnn_min_score)
            faces = self._fallback(image)
        faces.sort(key=lambda face: -face.score)
        return faces[: self.config.max_faces]
