"""Fit a face model (ICT, or the user's FLAME) to face crops by analysis-by-synthesis (many faces at once).

Camera: DECA's weak perspective on the crop (`emoca.render.camera.weak_perspective`). Stages, coarse to
fine (each a number of Adam steps on a growing set of parameters):

1. pose: rotation, camera scale and offset, from landmarks only;
2. shape: + identity and expression, landmarks (478 dense points, the 68 points with the jawline on
   the projected silhouette, `emoca.fit.jaw_contour`), eye/lip closure, priors;
3. appearance: + SH light and albedo, the masked robust photometric loss joins (rendered at
   `render_size` to keep it fast).

The model-specific parts (the expression vector, its bounds and prior, the landmark points) come from
`emoca.fit.face_terms`; the expression is projected onto its bounds after every step. Deterministic:
no randomness (the seed only matters for callers that perturb initialisations).
"""

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from emoca.facemodel.base import FaceModel
from emoca.facemodel.landmark_sets import IBUG_EYE_PAIRS, IBUG_LIP_PAIRS, MEDIAPIPE_EYE_PAIRS, MEDIAPIPE_LIP_PAIRS
from emoca.fit.albedo import AlbedoModel
from emoca.fit.face_terms import face_terms
from emoca.fit.jaw_contour import JAW, JawContour, shift_along_outline
from emoca.losses.closure import closure_loss
from emoca.losses.landmarks import landmark_loss
from emoca.losses.photometric import photometric_loss
from emoca.losses.priors import gaussian_prior, light_prior
from emoca.render.camera import weak_perspective
from emoca.render.renderer import Renderer, RendererConfig
from emoca.render.shading import default_light

# MediaPipe's face oval, in order: the photometric loss only looks inside it.
FACE_OVAL = (10, 109, 67, 103, 54, 21, 162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400,
             378, 379, 365, 397, 288, 361, 323, 454, 356, 389, 251, 284, 332, 297, 338)


@dataclass
class LossWeights:
    """Weights of the fitting losses (landmark terms are in units of the eye-corner distance). The
    landmark weights (dense, ibug, contour) were set on every 8th HELEN trainset photo (fitted-mesh NME)."""

    dense: float = 0.5
    ibug: float = 5.0
    contour: float = 3.0
    closure: float = 1.0
    photometric: float = 0.5
    identity: float = 2e-4
    expression: float = 2e-4
    light: float = 1e-3
    albedo: float = 1e-2
    temporal_expression: float = 0.3  # warm starts (video): squared distance of the expression weights
    temporal_rotation: float = 3.0  # ... and of the head rotation (rad) from the warm start
    #                                 (tuned on a synthetic clip: jitter down, no lag on a jaw step)


@dataclass
class FitConfig:
    """Steps and learning rates of the three stages; crop and render sizes in pixels; the torch device
    the fit runs on ("cpu", "cuda", "cuda:1", ...)."""

    device: str = "cpu"
    crop_size: int = 224
    render_size: int = 112
    pose_steps: int = 30
    shape_steps: int = 80
    appearance_steps: int = 20
    pose_rate: float = 0.01  # Adam learning rates: rotation (rad), log camera scale, offset (crop units)
    shape_rate: float = 0.03  # identity (std devs) and expression weights
    appearance_rate: float = 0.03  # light and albedo
    warm_pose: float = 0.1  # pose rates are scaled by this when warm-started (video: the pose is near)
    refine: float = 0.2  # geometry rates are scaled by this in the appearance stage (Adam's first steps
    #                      move every parameter by about its rate: the photometric stage must not undo the fit)
    weights: LossWeights = field(default_factory=LossWeights)


@dataclass
class FitTargets:
    """What the fit matches, per face. images: (B, 3, S, S) crops in [0, 1]. landmarks_68: (B, 68, 2)
    and dense: (B, 478, 2) detections in crop pixels (0 at the top-left pixel's centre)."""

    images: torch.Tensor
    landmarks_68: torch.Tensor
    dense: torch.Tensor

    @classmethod
    def concat(cls, parts: list["FitTargets"]) -> "FitTargets":
        """One batch of the faces of `parts`, in order (crops must share one size)."""
        return cls(*(torch.cat([getattr(part, name) for part in parts])
                     for name in ("images", "landmarks_68", "dense")))


@dataclass
class FitResult:
    """Fitted parameters (batch-first, CPU tensors whatever the fit's device) and the posed mesh.
    identity: (B, K) the person's identity. mesh_identity: (B, K) the identity the model's own forward
    takes to give `vertices` (differs when the terms add expression correctives, `emoca.fit.face_terms`).
    expression: (B, E) the model's expression vector. camera: scale (B,),
    offset (B, 2) of the weak perspective on the crop. vertices: (B, V, 3) posed, model units.
    landmarks_68: (B, 68, 2) projected model landmarks in crop pixels. losses: final per-face loss terms."""

    identity: torch.Tensor
    mesh_identity: torch.Tensor
    expression: torch.Tensor
    rotation: torch.Tensor
    scale: torch.Tensor
    offset: torch.Tensor
    light: torch.Tensor
    colours: torch.Tensor
    coefficients: torch.Tensor
    vertices: torch.Tensor
    landmarks_68: torch.Tensor
    losses: dict[str, torch.Tensor]


def oval_mask(dense: np.ndarray, size: int) -> np.ndarray:
    """(478, 2) crop-pixel points -> (size, size) float mask of the face oval."""
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(dense[list(FACE_OVAL)] * 16).astype(np.int32)], 1, shift=4)
    return mask.astype(np.float32)


class PhotoFitter:
    """Fits a `FaceModel`'s parameters to `FitTargets`; see the module docstring.

    The parts are built from `model` on the CPU, then `model` and they move to `config.device` (the
    model is moved in place, as `nn.Module.to` does)."""

    def __init__(self, model: FaceModel, config: FitConfig | None = None) -> None:
        self.model = model.cpu()
        self.config = config or FitConfig()
        self.device = torch.device(self.config.device)
        self.albedo = AlbedoModel(model)
        size = self.config.render_size
        self.renderer = Renderer(model.triangles, config=RendererConfig(image_size=(size, size)))
        self.jaw_contour = JawContour(model)
        self.terms = face_terms(model, self.jaw_contour.candidates)
        for part in (model, self.albedo, self.renderer, self.jaw_contour, self.terms):
            part.to(self.device)
        self.closure_pairs = {"dense": [*MEDIAPIPE_EYE_PAIRS["right"], *MEDIAPIPE_EYE_PAIRS["left"],
                                        *MEDIAPIPE_LIP_PAIRS],
                              "ibug": [*IBUG_EYE_PAIRS["right"], *IBUG_EYE_PAIRS["left"], *IBUG_LIP_PAIRS]}

    def project(self, points: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) posed points -> (B, N, 2) crop pixels (0 at the top-left pixel's centre)."""
        size = self.config.crop_size
        return weak_perspective(points, scale, offset, (size, size))[..., :2] - 0.5

    def _initial_camera(self, targets: FitTargets) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale and offset that match the neutral model's 68 points to the detections' spread/centre."""
        model_points = self.model.surface_landmarks(self.model.template[None], "ibug")[0, :, :2]
        size = self.config.crop_size
        detected = targets.landmarks_68 / (size / 2) - 1  # normalised, y down
        detected = torch.stack([detected[..., 0], -detected[..., 1]], -1)
        spread_model = (model_points - model_points.mean(0)).norm(dim=-1).mean()
        spread = (detected - detected.mean(1, keepdim=True)).norm(dim=-1).mean(-1)
        scale = spread / spread_model
        offset = detected.mean(1) - scale[:, None] * model_points.mean(0)
        return scale, offset

    def fit(self, targets: FitTargets, start: FitResult | None = None, identity: torch.Tensor | None = None,
            shared_identity: bool = False, steps: tuple[int, int, int] | None = None) -> FitResult:
        """Fit every face of the batch; see the module docstring for the schedule.

        Args:
            targets: the faces to match.
            start: warm start (video): camera, rotation, expression, light and albedo begin from this
                result (its camera must be on these targets' crops), and the `temporal_*` weights pull
                expression and rotation towards it.
            identity: (K,) a known identity, kept fixed (video frames after the identity is settled).
            shared_identity: fit one identity for the whole batch (frames of one person).
            steps: (pose, shape, appearance) step counts instead of the config's.
        """
        config, model, device = self.config, self.model, self.device
        targets = FitTargets(*(getattr(targets, name).to(device) for name in ("images", "landmarks_68", "dense")))
        batch = targets.images.shape[0]
        scale, offset = (start.scale, start.offset) if start is not None else self._initial_camera(targets)
        log_scale = scale.to(device).log().clone().requires_grad_(True)
        offset = offset.to(device).clone().requires_grad_(True)
        fresh = self.albedo.neutral_parameters(batch)
        initial = {"rotation": torch.zeros(batch, 3), "expression": torch.zeros(batch, self.terms.n_expression),
                   "light": default_light(batch), "colours": fresh["colours"], "coefficients": fresh["coefficients"]}
        if start is not None:
            initial = {name: getattr(start, name) for name in initial}
        rotation, expression, light, colours, coefficients = (
            initial[name].to(device).clone().requires_grad_(True)
            for name in ("rotation", "expression", "light", "colours", "coefficients"))
        if identity is not None:
            identity_parameter = identity.reshape(1, -1).to(device).clone()
        else:
            identity_parameter = torch.zeros(1 if shared_identity else batch, model.n_identity, device=device,
                                             requires_grad=True)
        eye = (targets.landmarks_68[:, 36] - targets.landmarks_68[:, 45]).norm(dim=-1) / config.crop_size
        render_size = config.render_size
        photo = F.interpolate(targets.images, size=(render_size, render_size), mode="bilinear", antialias=True,
                              align_corners=False)
        ratio = render_size / config.crop_size
        mask = torch.from_numpy(np.stack([oval_mask(d * ratio + (ratio - 1) / 2, render_size)
                                          for d in targets.dense.cpu().numpy()]))[:, None].to(device)
        shape = [expression] + ([identity_parameter] if identity_parameter.requires_grad else [])
        pose, appearance = [rotation, log_scale, offset], [light, colours, coefficients]
        refine = config.refine
        anchor = None if start is None else (start.expression.to(device), start.rotation.to(device))
        pose_rate = config.pose_rate * (config.warm_pose if start is not None else 1.0)
        counts = steps or (config.pose_steps, config.shape_steps, config.appearance_steps)
        stages = (("pose", counts[0], [(pose, pose_rate)]),
                  ("shape", counts[1], [(pose, pose_rate), (shape, config.shape_rate)]),
                  ("appearance", counts[2], [(pose, pose_rate * refine), (shape, config.shape_rate * refine),
                                             (appearance, config.appearance_rate)]))
        losses: dict[str, torch.Tensor] = {}
        for stage, count, groups in stages:
            optimiser = torch.optim.Adam([{"params": params, "lr": rate} for params, rate in groups])
            for _ in range(count):
                losses = self._losses(stage, targets, eye, photo, mask, log_scale.exp(), offset, rotation,
                                      identity_parameter.expand(batch, -1), expression, light, colours, coefficients,
                                      anchor)
                total = sum(losses.values()).sum()
                optimiser.zero_grad(set_to_none=True)
                total.backward()
                optimiser.step()
                with torch.no_grad():
                    self.terms.bound(expression)
        identity = identity_parameter.detach().expand(batch, -1)
        with torch.no_grad():
            vertices = self.terms.posed(identity, expression, rotation)
            _, ibug3d, jaw3d = self.terms.points_on(vertices)
            projected = self._landmarks_68(ibug3d, jaw3d, log_scale.exp(), offset)
            mesh_identity = self.terms.mesh_identity(identity, expression)
        cpu = lambda tensor: tensor.detach().cpu()  # noqa: E731
        return FitResult(cpu(identity), cpu(mesh_identity), cpu(expression), cpu(rotation), cpu(log_scale.exp()),
                         cpu(offset), cpu(light), cpu(colours), cpu(coefficients), cpu(vertices), cpu(projected),
                         {k: cpu(v) for k, v in losses.items()})

    def _landmarks_68(self, ibug3d: torch.Tensor, jaw3d: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor
                      ) -> torch.Tensor:
        """(B, 68, 3) posed embedded iBUG points and (B, C, 3) posed jaw candidates -> (B, 68, 2) crop
        pixels, the jawline (0-16) on the projected silhouette, moved by the terms' learned jaw offsets."""
        points = self.project(ibug3d, scale, offset)
        jaw, centre = points[:, JAW], points.mean(1)
        outline = self.jaw_contour.silhouette(self.project(jaw3d, scale, offset), jaw, centre)
        if self.terms.jaw_offsets is not None:
            eye = (points[:, 36] - points[:, 45]).norm(dim=-1)
            outline = shift_along_outline(outline, jaw, centre, self.terms.jaw_offsets, eye)
        return torch.cat([outline, points[:, len(JAW):]], 1)

    def _losses(self, stage: str, targets: FitTargets, eye: torch.Tensor, photo: torch.Tensor, mask: torch.Tensor,
                scale: torch.Tensor, offset: torch.Tensor, rotation: torch.Tensor, identity: torch.Tensor,
                expression: torch.Tensor, light: torch.Tensor, colours: torch.Tensor, coefficients: torch.Tensor,
                anchor: tuple[torch.Tensor, torch.Tensor] | None) -> dict[str, torch.Tensor]:
        """The loss terms of `stage`, each (B,); `anchor`: the warm start's (expression, rotation)."""
        weights, size = self.config.weights, self.config.crop_size
        if stage == "appearance":  # the render needs every vertex
            vertices = self.terms.posed(identity, expression, rotation)
            dense3d, ibug3d, jaw3d = self.terms.points_on(vertices)
        else:
            dense3d, ibug3d, jaw3d = self.terms.landmark_points(identity, expression, rotation)
        losses = {}
        if dense3d is not None:  # a model without MediaPipe's embedding (FLAME) fits the 68 points only
            dense = self.project(dense3d, scale, offset) / size
            dense_target = targets.dense / size
            losses["dense"] = weights.dense * landmark_loss(dense, dense_target, scale=eye)
        ibug = self._landmarks_68(ibug3d, jaw3d, scale, offset) / size
        ibug_target = targets.landmarks_68 / size
        inner = torch.ones(68, device=ibug.device)
        inner[JAW] = 0
        losses["ibug"] = weights.ibug * landmark_loss(ibug, ibug_target, inner, scale=eye)
        if stage == "pose":
            return losses
        losses["contour"] = weights.contour * landmark_loss(ibug[:, JAW], ibug_target[:, JAW], scale=eye)
        closure = closure_loss(ibug, ibug_target, self.closure_pairs["ibug"], scale=eye)
        if dense3d is not None:
            closure = closure_loss(dense, dense_target, self.closure_pairs["dense"], scale=eye) + closure
        losses["closure"] = weights.closure * closure
        losses["identity"] = weights.identity * gaussian_prior(identity) * identity.shape[1]
        losses["expression"] = weights.expression * self.terms.expression_prior(expression)
        if anchor is not None:
            losses["temporal"] = (weights.temporal_expression * (expression - anchor[0]).pow(2).sum(-1)
                                  + weights.temporal_rotation * (rotation - anchor[1]).pow(2).sum(-1))
        if stage == "shape":
            return losses
        render_size = self.config.render_size
        screen = weak_perspective(vertices, scale, offset, (render_size, render_size))
        rendered = self.renderer(vertices, screen, self.albedo(colours, coefficients), light, background=photo)
        losses["photometric"] = weights.photometric * photometric_loss(rendered.image, photo, mask)
        losses["light"] = weights.light * light_prior(light)
        losses["albedo"] = weights.albedo * coefficients.pow(2).mean((1, 2))
        return losses
