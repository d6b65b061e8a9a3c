"""The weak-perspective camera that puts a face's points on its detections, in closed form.

The regressor predicts camera and identity together; where its identity is replaced (the identity head),
the camera is solved again for the new face: scale s and offset t minimising sum_i w_i |s m_i + t - q_i|^2,
with m_i the posed model points' (x, y) and q_i the detections, both in normalised crop coordinates
(`emoca.render.camera.weak_perspective`: [-1, 1] spans the crop, +y up). The points and weights are the
fitter's landmark terms': the inner 68 points (17-67; the jawline follows the silhouette and is left
out) and MediaPipe's 478 where the model has them, each set weighted as `LandmarkWeights` weights its mean.
"""

import torch

from emoca.decode.decoder import FaceDecoder
from emoca.decode.jaw_contour import JAW
from emoca.face_params import FaceParams
from emoca.predictors.objective import LandmarkWeights
from emoca.targets import FaceTargets


def fit_camera(decoder: FaceDecoder, params: FaceParams, targets: FaceTargets,
               weights: LandmarkWeights | None = None) -> FaceParams:
    """`params` (B faces on `targets`' crops) with the scale and offset of the least-squares fit above;
    identity, expression and rotation unchanged."""
    weights = weights or LandmarkWeights()
    dense3d, ibug3d, _ = decoder.terms.landmark_points(params.identity, decoder.vector(params), params.rotation)
    inner = ibug3d[:, len(JAW):, :2]
    model_sets = [(inner, targets.landmarks_68[:, len(JAW):], weights.ibug / inner.shape[1])]
    if dense3d is not None:
        model_sets.append((dense3d[..., :2], targets.dense, weights.dense / dense3d.shape[1]))
    half = decoder.crop_size / 2
    model = torch.cat([points for points, _, _ in model_sets], 1)
    seen = torch.cat([detected for _, detected, _ in model_sets], 1).to(model)
    seen = torch.stack([(seen[..., 0] + 0.5) / half - 1, 1 - (seen[..., 1] + 0.5) / half], -1)
    weight = torch.cat([torch.full(points.shape[:2], value, dtype=model.dtype, device=model.device)
                        for points, _, value in model_sets], 1)[..., None]
    total = weight.sum(1, keepdim=True)
    model_mean, seen_mean = (weight * model).sum(1, keepdim=True) / total, (weight * seen).sum(1, keepdim=True) / total
    centred = model - model_mean
    scale = (weight * centred * (seen - seen_mean)).sum((1, 2)) / (weight * centred**2).sum((1, 2))
    offset = (seen_mean - scale[:, None, None] * model_mean)[:, 0]
    return params.replace(scale=scale.to(params.scale), offset=offset.to(params.offset))
