"""One photo to 3D faces, as a library: detect -> crop -> predict (`FaceParams`) -> decode.

    import emoca
    faces = emoca.reconstruct("photo.jpg")       # list[Face], best detection first
    faces[0].params.expression                   # (1, 53) ICT blendshape weights

`Reconstructor` holds the models (load once, call many times); `reconstruct_batch` predicts the faces
of several photos in one batch (faster per face). Nothing here writes files: `emoca reconstruct`
(`emoca.output.writer`) writes the outputs.
"""

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from emoca.decode.decoder import Decoded, FaceDecoder
from emoca.decode.gaze import IRIS_CENTRES, estimate_gaze, turn_eyes
from emoca.detect.affine import apply_affine, invert_affine
from emoca.detect.crops import CropConfig
from emoca.detect.landmarks68 import LEARNED as LANDMARKS_68_FILE
from emoca.detect.pipeline import FaceLandmarker, FaceLandmarks
from emoca.emotions import FaceEmotion
from emoca.errors import InputError
from emoca.face_params import FaceParams
from emoca.facemodel import load_model
from emoca.facemodel.base import FaceModel
from emoca.facemodel.ict import EYE_LOOK, ICTFaceModel
from emoca.io.images import load_image
from emoca.methods import METHODS, default_method
from emoca.nets.emotion import DEFAULT_WEIGHTS as EMOTION_WEIGHTS
from emoca.nets.emotion import face_emotions, load_emotion_net
from emoca.nets.geometry_emotion import GeometryEmotionNet, head_file, load_geometry_emotion
from emoca.nets.identity_head import WEIGHTS as IDENTITY_WEIGHTS
from emoca.nets.regressor import COARSE_WEIGHTS, EXPRESSION_WEIGHTS, Regressor
from emoca.predictors.emoca import EmotionRefinement
from emoca.predictors.emotion_term import EmotionConsistency
from emoca.predictors.fitter import FitConfig, PhotoFitter
from emoca.predictors.protocol import Predictor, Refined
from emoca.predictors.regressor import RegressorPredictor
from emoca.provenance import file_identities
from emoca.targets import FaceTargets, face_targets


@dataclass
class EmocaConfig:
    """`--method emoca`'s refinement of the regressor (`emoca.predictors.emoca`): the short fit's steps
    (pose, shape, appearance), the pull of the expression towards the regressor's (`start_expression`, per
    squared weight), the appearance stage's render size (pixels), the emotion stage's steps, rate, emotion
    weight and render size (pixels), and whether the identity stays at the regressor's (`hold_identity`)."""

    steps: tuple[int, int, int] = (3, 10, 3)  # 2026-12-03: 33% less time than (10, 30, 10) within the
    #                                          tuning rule (docs/emoca_method.md)
    appearance_render_size: int = 64  # the emotion stage's size: 112 px took about 8% more of a photo's time
    #                                   for 0.003 less distance (tuning, docs/emoca_method.md)
    start_expression: float = 0.05
    emotion_steps: int = 10
    emotion_rate: float = 0.02
    emotion_weight: float = 1.0
    render_size: int = 64
    hold_identity: bool = True  # the regressor's identity head tells people apart; a short fit did not


@dataclass
class ReconstructorConfig:
    """model: "ict" (shipped) or "flame" (with `flame`, the user's generic_model.pkl). device: where the
    prediction runs ("cpu", "cuda"); detection and outputs stay on the CPU. method: "fit" (analysis by
    synthesis, `emoca.predictors.fitter`), "regress" (the EMOCA regressor, `emoca.nets.regressor`; ICT only),
    "regress+fit" (the fit starts from the regressor's result with `refine_steps`) or "regress+identity"
    (the same short fit with the regressor's expression held: its emotion kept, identity, pose, camera,
    light and albedo fitted). expression_encoder:
    the regressor's stage-2 weights file (None: stage 1's own expression, for the ablation). fit: the fitter's
    schedule and loss weights (`fit.weights.emotion` > 0 adds the emotion-consistency term). emotion: each
    face's emotion from its expression parameters (`emoca.nets.geometry_emotion`) where the method has a
    trained head (ICT only)."""

    model: str = "ict"
    flame: str | None = None
    device: str = "cpu"
    method: str | None = None  # None: `emoca.methods.default_method(model)` (ICT: emoca, FLAME: fit)
    expression_encoder: str | None = str(EXPRESSION_WEIGHTS)  # stage-2 weights; None: stage 1's expression
    fit: FitConfig = field(default_factory=FitConfig)
    refine_steps: tuple[int, int, int] = (10, 30, 10)
    emoca: EmocaConfig = field(default_factory=EmocaConfig)
    emotion: bool = True

    def __post_init__(self) -> None:
        if self.method is None:
            self.method = default_method(self.model)


@dataclass
class Face:
    """One reconstructed face of an image.

    detection: the detected box and landmarks (input pixels). params: its `FaceParams` (a batch of one)
    on its crop, with its gaze (`params.gaze`: from the iris points; None without iris points or eyeballs;
    ICT's eyeLook weights are set from it). decoded: the decoded face (a batch of one, CPU; points in crop
    pixels), decoded for output (`FaceDecoder.decode(output=True)`), the eyeballs of its posed and unposed
    meshes turned to the gaze. to_input: (2, 3) crop-to-input affine map. timings_ms: where the time went
    for its image, milliseconds: "detect" (detection + landmarks of the image), "predict_per_face",
    "decode_per_face" (the full mesh, gaze and emotion). emotion: from the expression parameters (None
    where the method has no trained head).
    """

    detection: FaceLandmarks
    params: FaceParams
    decoded: Decoded
    to_input: np.ndarray
    timings_ms: dict[str, float]
    emotion: FaceEmotion | None = None

    @property
    def gaze(self) -> np.ndarray | None:
        """(2,) [yaw, pitch] radians (see `FaceParams.gaze`), or None."""
        return None if self.params.gaze is None else self.params.gaze[0].numpy()

    @property
    def landmarks_68(self) -> np.ndarray:
        """(68, 2) the reconstruction's 68 points (jawline on the silhouette) in input pixels."""
        return apply_affine(self.to_input, self.decoded.landmarks_68[0].numpy())


def check_device(device: str) -> str:
    """`device` if torch can use it here ("cpu", "cuda", "cuda:N").

    Raises:
        InputError: not a device name, or CUDA asked for where torch sees no CUDA device.
    """
    try:
        kind = torch.device(device).type
    except RuntimeError as error:
        raise InputError("--device", f"not a device: {error}") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise InputError("--device", f"{device} asked for, but torch sees no CUDA device here; use --device cpu")
    if kind not in ("cpu", "cuda"):
        raise InputError("--device", f"{device}: only cpu and cuda are supported")
    return device


class Reconstructor:
    """Detector, face model, decoder and predictor, loaded once (`config`, or a ready `model`).

    Raises:
        InputError: a device torch cannot use, or a model file that cannot be used.
    """

    def __init__(self, config: ReconstructorConfig | None = None, model: FaceModel | None = None) -> None:
        self.config = config or ReconstructorConfig()
        check_device(self.config.device)
        self.config.fit.device = self.config.device
        self.landmarker = FaceLandmarker()
        self.model = model or load_model(self.config.model, self.config.flame)
        self.crop = CropConfig()
        self.decoder = FaceDecoder(self.model, self.crop.size)
        self.predictor = self._predictor()
        self.geometry_emotion = self._geometry_emotion()

    def _predictor(self) -> Predictor:
        """The predictor of `config.method` (see `ReconstructorConfig`)."""
        config = self.config
        if config.method not in METHODS:
            raise InputError("--method", f"unknown method {config.method!r}; use one of {', '.join(METHODS)}")
        wants_emotion = config.fit.weights.emotion or config.method == "emoca"
        emotion = EmotionConsistency(load_emotion_net(device=config.device)) if wants_emotion else None
        if config.method == "fit":
            return PhotoFitter(self.decoder, config.fit, emotion)
        if config.model != "ict":
            raise InputError("--method", f"the regressor is trained for ICT; use --method fit with {config.model}")
        expression = None if config.expression_encoder is None else Path(config.expression_encoder)
        regressor = RegressorPredictor(Regressor.load(expression_path=expression), self.crop.size, config.device,
                                       self.decoder)
        if config.method == "regress":
            return regressor
        if config.method == "emoca":
            return EmotionRefinement(regressor, PhotoFitter(self.decoder, self._emoca_config(), emotion), emotion)
        return Refined(regressor, PhotoFitter(self.decoder, self._refine_config(), emotion))

    def _refine_config(self) -> FitConfig:
        """The short fit of regress+fit and regress+identity: `refine_steps`, the expression held for
        regress+identity."""
        config = self.config
        pose, shape, appearance = config.refine_steps
        return replace(config.fit, pose_steps=pose, shape_steps=shape, appearance_steps=appearance,
                       hold_expression=config.method == "regress+identity")

    def _emoca_config(self) -> FitConfig:
        """The fitter's schedule for `--method emoca` (`EmocaConfig`)."""
        emoca = self.config.emoca
        pose, shape, appearance = emoca.steps
        weights = replace(self.config.fit.weights, start_expression=emoca.start_expression,
                          test_emotion=emoca.emotion_weight)
        return replace(self.config.fit, pose_steps=pose, shape_steps=shape, appearance_steps=appearance,
                       render_size=emoca.appearance_render_size, emotion_steps=emoca.emotion_steps,
                       emotion_rate=emoca.emotion_rate, emotion_render_size=emoca.render_size,
                       hold_identity=emoca.hold_identity, weights=weights)

    def _geometry_emotion(self) -> GeometryEmotionNet | None:
        """The emotion-from-geometry head of `config.method` (regress+fit: the fitter's, since its
        expressions come out of the fitter's losses); None when off, for FLAME, or without a head."""
        config = self.config
        path = head_file(config.method)
        if not config.emotion or config.model != "ict" or path is None:
            return None
        return load_geometry_emotion(path)

    def emotions(self, params: FaceParams) -> list[FaceEmotion | None]:
        """Each face's emotion from its expression parameters (None for all without a head)."""
        if self.geometry_emotion is None:
            return [None] * len(params)
        with torch.no_grad():
            return face_emotions(self.geometry_emotion(params.expression.cpu()), "geometry")

    def targets(self, image: np.ndarray, faces: list[FaceLandmarks]) -> FaceTargets:
        """Crops, crop-pixel landmarks and crop-to-input maps of `faces`."""
        return face_targets(image, faces, self.crop)

    def decode(self, params: FaceParams) -> Decoded:
        """Decoding for output (mesh, albedo, points, unposed mesh, mesh identity) on the decoder's device;
        CPU tensors back."""
        with torch.no_grad():
            return self.decoder.decode(params.to(self.decoder.device), output=True).cpu()

    def faces(self, detections: list[FaceLandmarks], params: FaceParams, to_input: np.ndarray,
              timings_ms: dict[str, float]) -> list[Face]:
        """`Face` records of predicted `params` (one row per detection). Emotion from the predicted
        expression (what the heads were trained on); then the gaze sets ICT's eyeLook weights."""
        emotions = self.emotions(params)
        with torch.no_grad():  # the gaze reads the points and eyeballs only: one full decode, after it
            points = self.decoder.decode(params.to(self.decoder.device), mesh=False).cpu()
        gazes = [self.gaze(detection, params[i], points[i], to_input[i]) for i, detection in enumerate(detections)]
        if any(gaze is not None for gaze in gazes):
            params, decoded = self._looking(params, gazes)
        else:
            decoded = self.decode(params)
        return [Face(detection, params[i].replace(gaze=None if gazes[i] is None else torch.as_tensor(gazes[i])[None]),
                     decoded[i], to_input[i], timings_ms, emotions[i]) for i, detection in enumerate(detections)]

    def gaze(self, detection: FaceLandmarks, params: FaceParams, points: Decoded, to_input: np.ndarray
             ) -> np.ndarray | None:
        """[yaw, pitch] of one face from its iris centres (`points`: its points-only decoding); None
        without them."""
        if len(detection.dense) <= max(IRIS_CENTRES):
            return None
        dense = apply_affine(invert_affine(to_input), detection.dense[:, :2])
        with torch.no_grad():
            return estimate_gaze(self.decoder, params.to(self.decoder.device), points, dense)

    def _looking(self, params: FaceParams, gazes: list[np.ndarray | None]) -> tuple[FaceParams, Decoded]:
        """`params` with ICT's eyeLook weights from the gaze (other models: unchanged), and their decoding
        with the eyeballs of the posed and unposed meshes turned (faces without a gaze keep theirs)."""
        has = torch.tensor([gaze is not None for gaze in gazes])[:, None, None]
        gaze = torch.tensor(np.stack([np.zeros(2) if g is None else g for g in gazes]), dtype=torch.float32)
        params = self.looking(params, gazes)
        decoded = self.decode(params)
        rotation = params.rotation.cpu()
        decoded.vertices = torch.where(has, turn_eyes(self.model, decoded.vertices, rotation, gaze), decoded.vertices)
        decoded.unposed = torch.where(has, turn_eyes(self.model, decoded.unposed, torch.zeros_like(rotation), gaze),
                                      decoded.unposed)
        return params, decoded

    def looking(self, params: FaceParams, gazes: list[np.ndarray | None]) -> FaceParams:
        """`params` with ICT's eyeLook weights set from each face's gaze ([yaw, pitch] radians; None:
        that face keeps its own); other models' unchanged."""
        if not isinstance(self.model, ICTFaceModel) or all(gaze is None for gaze in gazes):
            return params
        has = torch.tensor([gaze is not None for gaze in gazes])
        gaze = torch.tensor(np.stack([np.zeros(2) if g is None else g for g in gazes]), dtype=torch.float32)
        looking = self.model.gaze_to_expression(gaze).to(params.expression)
        eye_look = torch.zeros(params.expression.shape[1], dtype=torch.bool)
        eye_look[[self.model.expression_index(name) for name in EYE_LOOK]] = True
        chosen = has[:, None] & eye_look[None]
        return params.replace(expression=torch.where(chosen.to(looking.device), looking, params.expression))

    def reconstruct(self, image: np.ndarray | str | Path) -> list[Face]:
        """Every face of one photo ((H, W, 3) uint8 RGB, or a path), best detection first; [] when none.

        Raises:
            InputError: a path that is not a readable image.
        """
        return self.reconstruct_batch([image])[0]

    def reconstruct_batch(self, images: list[np.ndarray | str | Path]) -> list[list[Face]]:
        """The faces of several photos, predicted in one batch; one list per photo (empty: no face)."""
        start = time.perf_counter()
        images = [load_image(Path(image)) if isinstance(image, str | Path) else image for image in images]
        detections = [self.landmarker(image) for image in images]
        found = [(image, faces) for image, faces in zip(images, detections, strict=True) if faces]
        if not found:
            return [[] for _ in images]
        targets = FaceTargets.concat([self.targets(image, faces) for image, faces in found])
        detected = time.perf_counter()
        params = self.predictor.predict(targets)
        count, predicted = len(params), time.perf_counter()
        timings = {"detect": 1000 * (detected - start), "predict_per_face": 1000 * (predicted - detected) / count}
        faces = self.faces([face for _, faces in found for face in faces], params, targets.to_input, timings)
        timings["decode_per_face"] = 1000 * (time.perf_counter() - predicted) / count
        results, position = [], 0
        for image_faces in detections:
            results.append(faces[position:position + len(image_faces)])
            position += len(image_faces)
        return results

    def provenance(self) -> dict:
        """The method, its configuration and the learned files used (name: short SHA-256)."""
        method = self.config.method
        files = [*self.decoder.terms.files, LANDMARKS_68_FILE]
        if method != "fit":
            expression = self.config.expression_encoder
            files += [COARSE_WEIGHTS, IDENTITY_WEIGHTS] + ([Path(expression)] if expression else [])
        if self.config.fit.weights.emotion or method == "emoca":
            files.append(EMOTION_WEIGHTS)
        if self.geometry_emotion is not None:
            files.append(head_file(method))
        record = {"method": method, "files": file_identities(files)}
        if method == "fit":
            record["fit_config"] = asdict(self.config.fit)
        if method.startswith("regress+"):
            record["fit_config"] = asdict(self._refine_config()) | {"steps": list(self.config.refine_steps)}
        if method == "emoca":
            record["fit_config"] = asdict(self._emoca_config())
        return record


_DEFAULT: Reconstructor | None = None


def reconstruct(image: np.ndarray | str | Path) -> list[Face]:
    """Every face of one photo with the default `Reconstructor` (ICT, CPU; loaded on the first call and
    kept). See `Reconstructor.reconstruct`."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Reconstructor()
    return _DEFAULT.reconstruct(image)
