"""478 dense landmarks (MediaPipe face mesh with irises) on each detected face.

For each `FaceBox`, an upright square crop around the face (rotated so the eyes are level) goes through
MediaPipe's face mesh (`refine_landmarks=True`: 468 mesh points refined at lips and eyes, plus 5 points
per iris). On the crop the face is large, centred and upright, so the face mesh's own short-range
detector finds it even where that detector fails on the whole photo. Should it still find nothing, the
attention landmark model (`face_landmark_with_attention.tflite`, shipped in the mediapipe wheel) runs
directly on MediaPipe's standard region of interest through ai-edge-litert: 468 unrefined mesh points
plus the irises. Either way every detected face gets its 478 points; `source` says which path gave them.

Points come back in input-image pixels: x right, y down, 0 at the centre of the top-left pixel; z is
MediaPipe's relative depth (smaller = nearer the camera) in the same pixel scale as x.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emoca.detect.affine import apply_affine, invert_affine, square_transform
from emoca.detect.detectors import FaceBox

N_DENSE = 478
# Mesh indices of the eye corners (image-left corner, image-right corner): the subject's right eye (iris
# points 468-472), then the left eye (473-477).
EYE_CORNERS = ((33, 133), (362, 263))


@dataclass
class MeshConfig:
    """crop_size: side of the crop the face mesh sees (px). crop_scale: crop side over the detector box
    side. roi_scale: MediaPipe's own region of interest for the direct model (box side x 1.5).
    min_presence: face-presence probability below which the direct model's result is dropped.
    tracking: video mode (the face mesh follows the face between frames)."""

    crop_size: int = 256
    crop_scale: float = 2.0
    roi_scale: float = 1.5
    min_presence: float = 0.2
    tracking: bool = False


@dataclass
class DenseLandmarks:
    """points: (478, 3) x, y, z in input pixels. presence: the mesh model's face probability (or 1.0 when
    the face mesh graph accepted the face). source: "face_mesh" or "direct"."""

    points: np.ndarray
    presence: float
    source: str


def _eye_angle(face: FaceBox) -> float:
    (x0, y0), (x1, y1) = face.eyes
    return float(np.arctan2(y1 - y0, x1 - x0))


class FaceMesher:
    """478 points for detected faces of one RGB image at a time."""

    def __init__(self, config: MeshConfig | None = None) -> None:
        from mediapipe.python.solutions import face_mesh

        self.config = config or MeshConfig()
        self._mesh = face_mesh.FaceMesh(static_image_mode=not self.config.tracking, max_num_faces=1,
                                        refine_landmarks=True, min_detection_confidence=0.3)
        self._direct: dict = {}

    def _interpreter(self, name: str):
        if name not in self._direct:
            import mediapipe
            from ai_edge_litert.interpreter import Interpreter

            interpreter = Interpreter(model_path=str(Path(mediapipe.__file__).parent / "modules" / name))
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

    def __call__(self, image: np.ndarray, face: FaceBox) -> DenseLandmarks:
        """Dense landmarks of one detected face; the direct model when the face mesh graph declines."""
        size = self.config.crop_size
        side = self.config.crop_scale * max(face.box[2] - face.box[0], face.box[3] - face.box[1])
        centre = (face.box[:2] + face.box[2:]) / 2
        matrix = square_transform(centre, side, _eye_angle(face), size)
        crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        result = self._mesh.process(crop)
        if result.multi_face_landmarks:
            marks = result.multi_face_landmarks[0].landmark
            normalised = np.array([(m.x, m.y, m.z) for m in marks], np.float64)
            # Normalised crop coordinates have 0 at the crop's left edge: pixel centres sit at +0.5.
            # z is normalised like x: times the crop side in input pixels.
            crop_points = normalised[:, :2] * size - 0.5
            points = np.concatenate([apply_affine(invert_affine(matrix), crop_points),
                                     normalised[:, 2:] * side], 1)
            return DenseLandmarks(points.astype(np.float32), 1.0, "face_mesh")
        direct = self._run_direct(image, face)
        if direct is None:
            return DenseLandmarks(np.full((N_DENSE, 3), np.nan, np.float32), 0.0, "none")
        return direct
