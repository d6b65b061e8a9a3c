"""Fit a face model (ICT, or the user's FLAME) to face crops by analysis-by-synthesis (many faces at once).

Camera: DECA's weak perspective on the crop (`emoca.render.camera.weak_perspective`). Stages, coarse to
fine (each a number of Adam steps on a growing set of parameters):

1. pose: rotation, camera scale and offset, from landmarks only;
2. shape: + identity and expression, landmarks (478 dense points, the 68 points with the jawline on
   the projected silhouette, `emoca.decode.jaw_contour`), eye/lip closure, priors;
3. appearance: + SH light and albedo, the masked robust photometric loss joins (rendered at
   `render_size` to keep it fast);
4. emotion (EMOCA's loss at test time; `emotion_steps`, off by default): the expression alone moves,
   under the landmarks, closure, photometric and the emotion-consistency term (the recogniser's features
   of the render, at `emotion_render_size`, against the photo's); identity, pose, camera, light and
   albedo stay where the earlier stages left them, so the emotion is carried by the face, not the shading.

Warm starts (`init`) can anchor the expression to `init`'s (`LossWeights.start_expression`): a refinement
of the regressor keeps its emotion unless the landmarks say otherwise.

The model-specific parts (the expression vector, its bounds and prior, the landmark points) come from
`emoca.decode.face_terms`; the expression is projected onto its bounds after every step. Deterministic:
no randomness (the seed only matters for callers that perturb initialisations).
"""

from dataclasses import dataclass, field, replace

import torch

from emoca.decode.decoder import FaceDecoder
from emoca.face_params import FaceParams
from emoca.losses.priors import gaussian_prior, light_prior
from emoca.predictors.emotion_term import EmotionConsistency
from emoca.predictors.grey import greyed
from emoca.predictors.objective import LandmarkWeights, PhotometricTargets, landmark_losses, photometric_term
from emoca.targets import FaceTargets


@dataclass
class LossWeights(LandmarkWeights):
    """Weights of the fitting losses: the landmark terms (`LandmarkWeights`), the photometric term and
    the priors."""

    photometric: float = 0.5
    identity: float = 2e-4
    expression: float = 2e-4
    light: float = 1e-3
    albedo: float = 1e-2
    emotion: float = 0.0  # EMOCA's emotion-consistency term in the appearance stage (`emoca.predictors.emotion_term`)
    temporal_expression: float = 0.3  # with an anchor (video): squared distance of the expression weights
    temporal_rotation: float = 3.0  # ... and of the head rotation (rad) from the anchor
    #                                 (tuned on a synthetic clip: jitter down, no lag on a jaw step)
    start_expression: float = 0.0  # warm starts: squared distance of the expression vector from `init`'s
    test_emotion: float = 0.0  # the emotion stage's emotion-consistency weight


@dataclass
class FitConfig:
    """Steps and learning rates of the three stages; render sizes in pixels (the crops' is the decoder's);
    the torch device the fit runs on ("cpu", "cuda", "cuda:1", ...)."""

    device: str = "cpu"
    render_size: int = 112
    pose_steps: int = 30
    shape_steps: int = 80
    appearance_steps: int = 20
    pose_rate: float = 0.01  # Adam learning rates: rotation (rad), log camera scale, offset (crop units)
    shape_rate: float = 0.03  # identity (std devs) and expression weights
    appearance_rate: float = 0.03  # light and albedo
    warm_pose: float = 0.1  # pose rates are scaled by this when started from `init` (the pose is near)
    refine: float = 0.2  # geometry rates are scaled by this in the appearance stage (Adam's first steps
    #                      move every parameter by about its rate: the photometric stage must not undo the fit)
    weights: LossWeights = field(default_factory=LossWeights)
    hold_expression: bool = False  # warm starts: keep the expression (and FLAME's jaw) at `init`'s
    #                                (regress+identity: the regressor's emotion is kept, the rest fitted)
    hold_identity: bool = False  # warm starts: keep each face's identity at `init`'s (emoca: the regressor's
    #                              identity head, which recognises people better than a short fit)
    emotion_steps: int = 0  # stage 4 (EMOCA's loss at test time); needs `weights.test_emotion` > 0
    emotion_rate: float = 0.02  # its Adam learning rate on the expression weights
    emotion_render_size: int = 64  # its render (the recogniser's input size)


class PhotoFitter:
    """Fits a face model's `FaceParams` to `FaceTargets`; see the module docstring.

    `decoder` (on the CPU when given) moves to `config.device` with its model (in place)."""

    def __init__(self, decoder: FaceDecoder, config: FitConfig | None = None,
                 emotion: EmotionConsistency | None = None) -> None:
        self.config = config or FitConfig()
        weights = self.config.weights
        if (weights.emotion or (weights.test_emotion and self.config.emotion_steps)) and emotion is None:
            raise ValueError("an emotion weight needs the emotion recogniser (`emotion`)")
        self.emotion = emotion
        self.device = torch.device(self.config.device)
        self.decoder = decoder.to(self.device)

    def per_frame(self, steps: tuple[int, int, int, int]) -> "PhotoFitter":
        """This fitter with `steps` (pose, shape, appearance, emotion; the emotion stage runs only where
        `weights.test_emotion` is set) for a video's later frames (`emoca.predictors.protocol`)."""
        pose, shape, appearance, emotion = steps
        return PhotoFitter(self.decoder, replace(self.config, pose_steps=pose, shape_steps=shape,
                                                 appearance_steps=appearance, emotion_steps=emotion), self.emotion)

    def _initial_camera(self, targets: FaceTargets) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale and offset that match the neutral model's 68 points to the detections' spread/centre."""
        model = self.decoder.model
        model_points = model.surface_landmarks(model.template[None], "ibug")[0, :, :2]
        size = self.decoder.crop_size
        detected = targets.landmarks_68 / (size / 2) - 1  # normalised, y down
        detected = torch.stack([detected[..., 0], -detected[..., 1]], -1)
        spread_model = (model_points - model_points.mean(0)).norm(dim=-1).mean()
        spread = (detected - detected.mean(1, keepdim=True)).norm(dim=-1).mean(-1)
        scale = spread / spread_model
        offset = detected.mean(1) - scale[:, None] * model_points.mean(0)
        return scale, offset

    def predict(self, targets: FaceTargets, init: FaceParams | None = None, anchor: FaceParams | None = None,
                identity: torch.Tensor | None = None, shared_identity: bool = False) -> FaceParams:
        """Fit every face of the batch; see the module docstring for the schedule. Returns CPU tensors.

        Args:
            targets: the faces to match.
            init: where the parameters start (its camera must be on these targets' crops; the pose
                steps are then smaller, `FitConfig.warm_pose`); else the mean face, facing the camera,
                framed to the detected 68 points.
            anchor: the `temporal_*` weights pull expression and rotation towards it (video: the previous
                frame's result).
            identity: (K,) a known identity, kept fixed (video frames after the identity is settled).
            shared_identity: fit one identity for the whole batch (frames of one person).
        """
        config, decoder, device = self.config, self.decoder, self.device
        targets = targets.to(device)
        batch = len(targets)
        warm = init is not None
        if init is None:
            scale, offset = self._initial_camera(targets)
            init = decoder.neutral(batch).replace(scale=scale, offset=offset)
        init = init.to(device)
        log_scale = init.scale.log().clone().requires_grad_(True)
        offset = init.offset.clone().requires_grad_(True)
        rotation, expression, light, colours, coefficients = (
            tensor.clone().requires_grad_(True)
            for tensor in (init.rotation, decoder.vector(init), init.light, init.colours, init.coefficients))
        if identity is not None:
            identity_parameter = identity.reshape(1, -1).to(device).clone()
        elif warm:
            first = init.identity.mean(0, keepdim=True) if shared_identity else init.identity
            identity_parameter = first.clone().requires_grad_(not config.hold_identity)
        else:
            identity_parameter = torch.zeros(1 if shared_identity else batch, decoder.model.n_identity, device=device,
                                             requires_grad=True)
        photometric = PhotometricTargets.of(targets, config.render_size)
        photo_emotion = self.emotion.target(photometric.photo) if config.weights.emotion else None
        emotion_stage = config.emotion_steps if config.weights.test_emotion else 0
        small = PhotometricTargets.of(targets, config.emotion_render_size) if emotion_stage else None
        small_emotion = self.emotion.target(small.photo) if emotion_stage else None
        start = decoder.vector(init).detach() if warm and config.weights.start_expression else None
        hold = config.hold_expression and warm
        shape = ([] if hold else [expression]) + ([identity_parameter] if identity_parameter.requires_grad else [])
        pose, appearance = [rotation, log_scale, offset], [light, colours, coefficients]
        refine = config.refine
        anchor_values = None if anchor is None else (decoder.vector(anchor).to(device), anchor.rotation.to(device))
        pose_rate = config.pose_rate * (config.warm_pose if warm else 1.0)
        stages = (("pose", config.pose_steps, [(pose, pose_rate)]),
                  ("shape", config.shape_steps, [(pose, pose_rate), (shape, config.shape_rate)]),
                  ("appearance", config.appearance_steps, [(pose, pose_rate * refine),
                                                           (shape, config.shape_rate * refine),
                                                           (appearance, config.appearance_rate)]),
                  ("emotion", emotion_stage, [([] if hold else [expression], config.emotion_rate)]))

        def current(expression_only: bool = False) -> FaceParams:
            """The parameters being optimised, as one record (the expression vector split back);
            `expression_only`: the rest detached (the emotion stage moves the expression alone, so no
            gradient is computed for what stays)."""
            expression_part, jaw = decoder.terms.split(expression)
            params = FaceParams(identity_parameter.expand(batch, -1), expression_part, rotation, log_scale.exp(),
                                offset, light, colours, coefficients, jaw)
            return params.detach().replace(expression=expression_part, jaw=jaw) if expression_only else params

        for stage, count, groups in stages:
            groups = [{"params": params, "lr": rate} for params, rate in groups if params]
            if not (count and groups):
                continue
            optimiser = torch.optim.Adam(groups)
            for _ in range(count):
                if stage == "emotion":
                    losses = self._emotion_losses(current(expression_only=True), targets, small, small_emotion,
                                                  anchor_values, start)
                else:
                    losses = self._losses(stage, current(), targets, photometric, anchor_values, photo_emotion, start)
                total = sum(losses.values()).sum()
                optimiser.zero_grad(set_to_none=True)
                total.backward()
                optimiser.step()
                with torch.no_grad():
                    decoder.terms.bound(expression)
        return greyed(current().detach(), targets).to("cpu")

    def _priors(self, params: FaceParams, anchor: tuple[torch.Tensor, torch.Tensor] | None,
                start: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """(B,) prior terms: identity and expression priors, the pull towards `anchor` (the previous
        frame's expression vector and rotation) and towards `start` (the warm start's expression vector)."""
        weights, decoder = self.config.weights, self.decoder
        identity, expression = params.identity, decoder.vector(params)
        losses = {"identity": weights.identity * gaussian_prior(identity) * identity.shape[1],
                  "expression": weights.expression * decoder.terms.expression_prior(expression)}
        if anchor is not None:
            losses["temporal"] = (weights.temporal_expression * (expression - anchor[0]).pow(2).sum(-1)
                                  + weights.temporal_rotation * (params.rotation - anchor[1]).pow(2).sum(-1))
        if start is not None:
            losses["start"] = weights.start_expression * (expression - start).pow(2).sum(-1)
        return losses

    def _emotion_losses(self, params: FaceParams, targets: FaceTargets, photometric: PhotometricTargets,
                        photo_emotion: torch.Tensor, anchor: tuple[torch.Tensor, torch.Tensor] | None,
                        start: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Stage 4's terms, each (B,): landmarks and closure, priors, the photometric error and the
        emotion consistency of a render at `emotion_render_size` composited over the photo."""
        weights, decoder = self.config.weights, self.decoder
        decoded = decoder.decode(params)
        losses = {**landmark_losses(decoded, targets, weights), **self._priors(params, anchor, start)}
        rendered = decoder.render(params, decoded, self.config.emotion_render_size, background=photometric.photo)
        losses["photometric"] = weights.photometric * photometric_term(rendered.image, photometric)
        losses["emotion"] = weights.test_emotion * self.emotion(rendered.image, photo_emotion)
        return losses

    def _losses(self, stage: str, params: FaceParams, targets: FaceTargets, photometric: PhotometricTargets,
                anchor: tuple[torch.Tensor, torch.Tensor] | None, photo_emotion: torch.Tensor | None,
                start: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The loss terms of `stage`, each (B,); `anchor`: the (expression vector, rotation) to stay near;
        `photo_emotion`: the recogniser's features of the photos (with an emotion weight); `start`: the
        warm start's expression vector (with a `start_expression` weight)."""
        weights, decoder = self.config.weights, self.decoder
        decoded = decoder.decode(params, mesh=stage == "appearance")  # the render needs every vertex
        losses = landmark_losses(decoded, targets, weights, contour=stage != "pose")
        if stage == "pose":
            return losses
        losses.update(self._priors(params, anchor, start))
        if stage == "shape":
            return losses
        rendered = decoder.render(params, decoded, self.config.render_size, background=photometric.photo)
        losses["photometric"] = weights.photometric * photometric_term(rendered.image, photometric)
        losses["light"] = weights.light * light_prior(params.light)
        losses["albedo"] = weights.albedo * params.coefficients.pow(2).mean((1, 2))
        if photo_emotion is not None:
            losses["emotion"] = weights.emotion * self.emotion(rendered.image, photo_emotion)
        return losses
