"""The landmark overlay: what the detector found, drawn on the photo."""

import cv2
import numpy as np

from emoca.detect.pipeline import FaceLandmarks


def draw_landmarks(image: np.ndarray, faces: list[FaceLandmarks]) -> np.ndarray:
    """Overlay: detector box (green), 478 dense points (cyan), 68 points (red), on a copy of `image`."""
    canvas = image.copy()
    radius = max(1, round(max(image.shape[:2]) / 400))
    for face in faces:
        x0, y0, x1, y1 = (int(round(v)) for v in face.box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), (0, 200, 0), radius)
        for x, y in face.dense[:, :2]:
            cv2.circle(canvas, (int(round(x)), int(round(y))), max(1, radius // 2), (0, 220, 255), -1)
        for x, y in face.landmarks_68:
            cv2.circle(canvas, (int(round(x)), int(round(y))), radius + 1, (255, 40, 40), -1)
    return canvas
