"""MediaPipe's full-range BlazeFace run directly through ai-edge-litert (2 threads, no graph overhead).

The model file ships in the mediapipe wheel. Decoding follows MediaPipe's full-range detection graph:
the image is letterboxed to 192x192 with values in [-1, 1]; 2,304 anchors on a 48x48 grid (stride 4,
offset 0.5, unit size); each row holds the box centre offset, width, height and 6 keypoints (right eye,
left eye, nose tip, mouth, right ear, left ear) in 192-px units; scores through a sigmoid (logits
clipped at +-100); overlapping boxes are merged by score-weighted averaging (IoU > 0.3).
"""

import cv2
import numpy as np

from emoca.detect.mediapipe_files import mediapipe_modules

SIZE = 192
GRID = 48


def _anchors() -> np.ndarray:
    centres = (np.arange(GRID) + 0.5) / GRID
    y, x = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([x.reshape(-1), y.reshape(-1)], 1)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    top_left = np.maximum(box[:2], boxes[:, :2])
    bottom_right = np.minimum(box[2:], boxes[:, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(1)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-12)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, threshold: float
                 ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's "weighted" suppression: each kept detection is the score-weighted mean of the boxes
    and keypoints overlapping the best remaining one by more than `threshold` IoU."""
    order = np.argsort(-scores)
    results = []
    while len(order):
        overlap = _iou(boxes[order[0]], boxes[order]) > threshold
        group = order[overlap]
        weights = scores[group] / scores[group].sum()
        results.append(((boxes[group] * weights[:, None]).sum(0),
                        (keypoints[group] * weights[:, None, None]).sum(0), float(scores[order[0]])))
        order = order[~overlap]
    return results


class BlazeFaceFullRange:
    """`detector(image)` -> list of (box (4,) x0, y0, x1, y1, keypoints (6, 2), score) in input pixels."""

    def __init__(self, min_score: float = 0.5, threads: int = 2) -> None:
        from ai_edge_litert.interpreter import Interpreter

        folder = mediapipe_modules() / "face_detection"
        path = folder / "face_detection_full_range_sparse.tflite"
        self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = sorted(self._interpreter.get_output_details(), key=lambda d: d["shape"][-1])
        self._scores, self._raw = outputs[0]["index"], outputs[1]["index"]
        self._anchors = _anchors()
        self.min_score = min_score

    def __call__(self, image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
        height, width = image.shape[:2]
        scale = SIZE / max(height, width)  # letterbox: fit the long side, pad the short side
        resized = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_LINEAR)
        pad_x, pad_y = (SIZE - resized.shape[1]) // 2, (SIZE - resized.shape[0]) // 2
        canvas = np.zeros((SIZE, SIZE, 3), np.float32)
        canvas[pad_y:pad_y + resized.shape[0], pad_x:pad_x + resized.shape[1]] = resized / 127.5 - 1
        self._interpreter.set_tensor(self._input, canvas[None])
        self._interpreter.invoke()
        logits = np.clip(self._interpreter.get_tensor(self._scores)[0, :, 0], -100, 100)
        keep = logits >= np.log(self.min_score / (1 - self.min_score))  # sigmoid(logit) >= min_score
        if not keep.any():
            return []
        raw, anchors = self._interpreter.get_tensor(self._raw)[0][keep], self._anchors[keep]
        scores = 1 / (1 + np.exp(-logits[keep]))
        centre = raw[:, :2] / SIZE + anchors
        half = raw[:, 2:4] / SIZE / 2
        boxes = np.concatenate([centre - half, centre + half], 1) * SIZE
        keypoints = (raw[:, 4:16].reshape(-1, 6, 2) / SIZE + anchors[:, None]) * SIZE
        results = []
        offset = np.array([pad_x, pad_y])
        for box, points, score in weighted_nms(boxes, keypoints, scores, 0.3):
            box = ((box.reshape(2, 2) - offset) / scale).reshape(-1)
            results.append((box.astype(np.float32), ((points - offset) / scale).astype(np.float32), score))
        return results
