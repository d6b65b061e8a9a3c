"""478 dense landmarks (MediaPipe face mesh with irises) on each detected face.

Two paths, both on MediaPipe models shipped in its wheel:

* "direct" (default, fast): the face landmark model (`face_landmark.tflite`, 468 points) on MediaPipe's
  region of interest (the detector box x 1.5, rotated so the eyes are level), then the iris model
  (`iris_landmark.tflite`) on each eye (5 points each), run through ai-edge-litert with 2 threads. This
  is MediaPipe's graph without its attention refinement of lips and eyes.
* "graph" (`MeshConfig.refine=True`): an upright square crop around the face goes through MediaPipe's
  face mesh graph with `refine_landmarks=True` (the attention model: lips and eyes refined, irises).
  Its own short-range detector finds the face on the crop even where it fails on the whole photo.
  About 6 ms slower per face here.

Each path is the other's fallback, so every detected face gets its 478 points; `source` says which
path gave them. Video: `track` derives the region of interest from the previous frame's points, as
MediaPipe's tracking mode does, and needs no detector.

Points come back in input-image pixels: x right, y down, 0 at the centre of the top-left pixel; z is
MediaPipe's relative depth (smaller = nearer the camera) in the same pixel scale as x.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from emoca.detect.affine import apply_affine, invert_affine, square_transform
from emoca.detect.detectors import FaceBox
from emoca.detect.mediapipe_files import mediapipe_modules

N_DENSE = 478
# Mesh indices of the eye corners (image-left corner, image-right corner): the subject's right eye (iris
# points 468-472), then the left eye (473-477).
EYE_CORNERS = ((33, 133), (362, 263))


@dataclass
class MeshConfig:
    """refine: use the face mesh graph (attention model) first instead of the direct models.
    crop_size, crop_scale: the graph's crop (px) and its side over the detector box side. roi_scale:
    MediaPipe's region of interest for the direct model (box side x 1.5). min_presence: face-presence
    probability below which the direct model's result is dropped. threads: litert threads."""

    refine: bool = False
    crop_size: int = 256
    crop_scale: float = 2.0
    roi_scale: float = 1.5
    min_presence: float = 0.5
    threads: int = 2


@dataclass
class DenseLandmarks:
    """points: (478, 3) x, y, z in input pixels. presence: the mesh model's face probability (or 1.0 when
    the graph accepted the face). source: "direct" or "graph"."""

    points: np.ndarray
    presence: float
    source: str


def _eye_angle(face: FaceBox) -> float:
    (x0, y0), (x1, y1) = face.eyes
    return float(np.arctan2(y1 - y0, x1 - x0))


class FaceMesher:
    """478 points for detected faces of one RGB image at a time."""

    def __init__(self, config: MeshConfig | None = None) -> None:
        self.config = config or MeshConfig()
        self._graph = None
        self._direct: dict = {}

    def _interpreter(self, name: str):
        if name not in self._direct:
            from ai_edge_litert.interpreter import Interpreter

            interpreter = Interpreter(model_path=str(mediapipe_modules() / name),
                                      num_threads=self.config.threads)
            interpreter.allocate_tensors()
            self._direct[name] = interpreter
        return self._direct[name]

    def _invoke(self, name: str, crop: np.ndarray) -> dict[str, np.ndarray]:
        interpreter = self._interpreter(name)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], (crop[None] / 255.0).astype(np.float32))
        interpreter.invoke()
        return {d["name"]: interpreter.get_tensor(d["index"]).reshape(-1) for d in interpreter.get_output_details()}

    def _warp(self, image: np.ndarray, centre: np.ndarray, side: float, angle: float, size: int, flip: bool = False
              ) -> tuple[np.ndarray, np.ndarray]:
        """Crop and its (2, 3) crop -> input map; `flip` mirrors the crop left-right."""
        matrix = square_transform(centre, side, angle, size)
        if flip:
            matrix = np.array([[-1.0, 0, size - 1], [0, 1, 0]]) @ np.vstack([matrix, [0, 0, 1]])
        crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return crop, invert_affine(matrix)

    def _run_direct(self, image: np.ndarray, face: FaceBox) -> DenseLandmarks | None:
        """The plain face landmark model (468 points) on MediaPipe's standard region of interest, then the
        iris model on each eye, as MediaPipe's graph does (without its lip/eye refinement)."""
        side = self.config.roi_scale * max(face.box[2] - face.box[0], face.box[3] - face.box[1])
        crop, inverse = self._warp(image, (face.box[:2] + face.box[2:]) / 2, side, _eye_angle(face), 192)
        outputs = self._invoke("face_landmark/face_landmark.tflite", crop)
        presence = float(1 / (1 + np.exp(-outputs["conv2d_31"][0])))
        if presence < self.config.min_presence:
            return None
        mesh = outputs["conv2d_21"].reshape(468, 3)
        points = np.concatenate([apply_affine(inverse, mesh[:, :2] - 0.5), mesh[:, 2:] * side / 192], 1)
        irises = []
        for (left, right), flip in ((EYE_CORNERS[0], False), (EYE_CORNERS[1], True)):  # the model sees right eyes
            corners = points[[left, right]]
            width = float(np.linalg.norm(corners[1, :2] - corners[0, :2]))
            angle = float(np.arctan2(*(corners[1, :2] - corners[0, :2])[::-1]))
            eye, eye_inverse = self._warp(image, corners[:, :2].mean(0), 2.3 * width, angle, 64, flip)
            iris = self._invoke("iris_landmark/iris_landmark.tflite", eye)["output_iris"].reshape(5, 3)
            if flip:  # mirroring swaps the iris's left and right boundary points (checked against the graph)
                iris = iris[[0, 3, 2, 1, 4]]
            irises.append(np.concatenate([apply_affine(eye_inverse, iris[:, :2] - 0.5),
                                          iris[:, 2:] * 2.3 * width / 64 + corners[:, 2].mean()], 1))
        return DenseLandmarks(np.concatenate([points, *irises]).astype(np.float32), presence, "direct")

    def _run_graph(self, image: np.ndarray, face: FaceBox) -> DenseLandmarks | None:
        """The face mesh graph (refined lips, eyes, irises) on an upright crop around the face."""
        if self._graph is None:
            from mediapipe.python.solutions import face_mesh

            self._graph = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                                             min_detection_confidence=0.3)
        size = self.config.crop_size
        side = self.config.crop_scale * max(face.box[2] - face.box[0], face.box[3] - face.box[1])
        crop, inverse = self._warp(image, (face.box[:2] + face.box[2:]) / 2, side, _eye_angle(face), size)
        result = self._graph.process(crop)
        if not result.multi_face_landmarks:
            return None
        normalised = np.array([(m.x, m.y, m.z) for m in result.multi_face_landmarks[0].landmark], np.float64)
        # Normalised crop coordinates have 0 at the crop's left edge (pixel centres at +0.5); z is
        # normalised like x, so it scales with the crop side in input pixels.
        points = np.concatenate([apply_affine(inverse, normalised[:, :2] * size - 0.5), normalised[:, 2:] * side], 1)
        return DenseLandmarks(points.astype(np.float32), 1.0, "graph")

    def __call__(self, image: np.ndarray, face: FaceBox) -> DenseLandmarks:
        """Dense landmarks of one detected face (the other path when the first declines)."""
        paths = (self._run_graph, self._run_direct) if self.config.refine else (self._run_direct, self._run_graph)
        for path in paths:
            result = path(image, face)
            if result is not None:
                return result
        return DenseLandmarks(np.full((N_DENSE, 3), np.nan, np.float32), 0.0, "none")

    def track(self, image: np.ndarray, previous: DenseLandmarks) -> DenseLandmarks:
        """Video: dense landmarks from the previous frame's points instead of a detection ("none" when
        the face is lost: detect again)."""
        points = previous.points[:468, :2]
        low, high = points.min(0), points.max(0)
        eyes = np.stack([points[list(EYE_CORNERS[0])].mean(0), points[list(EYE_CORNERS[1])].mean(0)])
        return self(image, FaceBox(np.concatenate([low, high]).astype(np.float32), previous.presence, "tracking",
                                   eyes.astype(np.float32)))
