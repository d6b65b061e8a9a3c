"""Photo fitting: a rendered face with a known expression is recovered from its detected landmarks."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from emoca.datasets.helen import nme
from emoca.decode.decoder import FaceDecoder
from emoca.decode.image_space import camera_between_crops, screen_in_image
from emoca.decode.jaw_contour import JAW, JawContour, load_jaw_offsets, shift_along_outline
from emoca.detect.crops import CropConfig
from emoca.detect.pipeline import FaceLandmarker
from emoca.predictors.camera import fit_camera
from emoca.predictors.fitter import FitConfig, PhotoFitter
from emoca.predictors.protocol import Refined
from emoca.render.camera import weak_perspective
from emoca.render.renderer import Renderer, RendererConfig
from emoca.render.shading import default_light
from emoca.targets import FaceTargets, face_targets
from emoca.train.landmark_embedding import eye_albedo


def test_fit_recovers_an_open_jaw_from_a_render(ict_model):
    size = 320
    params = ict_model.neutral_parameters(1)
    params["identity"] = torch.randn(1, ict_model.n_identity, generator=torch.Generator().manual_seed(5)) * 0.7
    params["expression"][0, ict_model.expression_index("jawOpen")] = 0.6
    params["rotation"][0, 1] = 0.2
    with torch.no_grad():
        face = ict_model(**params)
        screen = weak_perspective(face.vertices, torch.tensor([0.07]), torch.tensor([[0.0, 0.1]]), (size, size))
        image = Renderer(ict_model.triangles, config=RendererConfig(image_size=(size, size)))(
            face.vertices, screen, eye_albedo(ict_model), default_light(1)).image
    photo = (image[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    detected = FaceLandmarker()(photo)[0]
    targets = face_targets(photo, [detected], CropConfig())
    config = FitConfig(pose_steps=30, shape_steps=60, appearance_steps=5)
    decoder = FaceDecoder(ict_model)
    result = PhotoFitter(decoder, config).predict(targets)
    assert nme(decoder.decode(result).landmarks_68[0].numpy(), targets.landmarks_68[0].numpy()) < 0.05
    assert result.expression[0, ict_model.expression_index("jawOpen")] > 0.3
    assert 0.05 < float(result.rotation[0, 1]) < 0.4  # the head turn, about +y
    assert ((result.expression >= 0) & (result.expression <= 1)).all()


def test_a_camera_moved_to_another_crop_projects_to_the_same_input_pixels():
    vertices = torch.randn(2, 10, 3) * 8
    scale, offset = torch.tensor([0.06, 0.05]), torch.tensor([[0.1, -0.2], [0.0, 0.05]])
    source = np.array([[[1.3, 0, 40.0], [0, 1.3, 12.0]], [[0.8, 0, -5.0], [0, 0.8, 30.0]]])
    target = np.array([[[1.1, 0, 50.0], [0, 1.1, 2.0]], [[0.9, 0, 5.0], [0, 0.9, 20.0]]])
    moved_scale, moved_offset = camera_between_crops(scale, offset, source, target, 224)
    before = screen_in_image(vertices, scale, offset, 224, source)
    after = screen_in_image(vertices, moved_scale, moved_offset, 224, target)
    assert torch.allclose(before, after, atol=1e-3)
    assert not torch.allclose(moved_offset, offset)  # the crops differ: the camera had to move


def test_jaw_points_slide_onto_the_silhouette_of_a_turned_head(ict_model):
    contour = JawContour(ict_model)
    params = ict_model.neutral_parameters(2)
    params["rotation"][1, 1] = 0.6  # turned to the subject's left (+x)
    with torch.no_grad():
        vertices = ict_model(**params).vertices
    embedded = ict_model.surface_landmarks(vertices, "ibug")[:, JAW, :2]
    candidates = vertices[:, contour.candidates, :2]
    outline = contour.silhouette(candidates, embedded, ict_model.surface_landmarks(vertices, "ibug")[..., :2].mean(1))
    frontal_shift = (outline[0] - embedded[0]).norm(dim=-1)
    assert frontal_shift.median() < 0.5  # cm: facing the camera, the outline is where the points are embedded
    # Turned: the right cheek (points 0-4, image left) shows its side; its outline lies outwards (smaller
    # x) of the embedded points, which rotated towards the middle, on the path's outermost vertices.
    assert (outline[1, :5, 0] < embedded[1, :5, 0] - 0.3).all()
    assert (outline[1, :5, 0] <= candidates[1, contour.paths[:5].any(0), 0].min() + 1e-4).any()


def test_jaw_offsets_move_points_along_the_outline_normal_and_tangent():
    angles = torch.linspace(-2.5, 2.5, 17)  # an arc round the origin, like a jawline round the face
    arc = torch.stack([10 * torch.sin(angles), -10 * torch.cos(angles)], -1)[None]
    centre, eye = torch.zeros(1, 2), torch.tensor([20.0])
    outward = shift_along_outline(arc, arc, centre, torch.tensor([[0.1, 0.0]] * 17), eye)
    # 0.1 eye = 2 px out (the end points' one-sided tangents tilt their normals a little)
    assert torch.allclose(outward.norm(dim=-1), torch.full((1, 17), 12.0), atol=0.05)
    along = shift_along_outline(arc, arc, centre, torch.tensor([[0.0, 0.05]] * 17), eye)
    step = along - arc
    assert torch.allclose(step.norm(dim=-1), torch.ones(1, 17), atol=1e-4)  # 1 px ...
    assert ((step * arc).sum(-1)[:, 1:-1].abs() < 1e-3).all()  # ... across the radius (inner points)
    shipped = load_jaw_offsets()
    assert shipped is not None and shipped.shape == (17, 2) and shipped.abs().max() < 0.3


@pytest.mark.gpu
def test_fit_on_cuda_agrees_with_the_cpu():
    from emoca.facemodel.ict import ICTFaceModel

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    model = ICTFaceModel()  # the fitter moves its model: not the shared fixture
    face = model(**model.neutral_parameters(1)).vertices
    screen = weak_perspective(face, torch.tensor([5.0]), torch.zeros(1, 2), (224, 224))
    renderer = Renderer(model.triangles, config=RendererConfig(image_size=(224, 224)))
    image = renderer(face, screen, torch.full((1, model.n_vertices, 3), 0.6), default_light(1)).image
    pixels = lambda p: weak_perspective(p, torch.tensor([5.0]), torch.zeros(1, 2), (224, 224))[..., :2] - 0.5  # noqa: E731
    targets = FaceTargets(image, pixels(model.surface_landmarks(face, "ibug")),
                          pixels(model.surface_landmarks(face, "dense")))
    short = FitConfig(pose_steps=10, shape_steps=20, appearance_steps=5)
    cpu_decoder = FaceDecoder(ICTFaceModel())
    on_cpu = PhotoFitter(cpu_decoder, short).predict(targets)
    on_cuda = PhotoFitter(FaceDecoder(model), replace(short, device="cuda")).predict(targets)
    assert on_cuda.identity.device.type == "cpu"  # results come back to the CPU
    difference = cpu_decoder.decode(on_cuda).landmarks_68 - cpu_decoder.decode(on_cpu).landmarks_68
    assert difference.norm(dim=-1).max() < 0.5  # pixels


def test_a_warm_fit_that_holds_the_expression_or_the_identity_moves_only_the_rest(ict_model):
    decoder = FaceDecoder(ict_model)
    generator = torch.Generator().manual_seed(3)
    truth = decoder.neutral(1).replace(identity=torch.randn(1, ict_model.n_identity, generator=generator) * 0.8,
                                       scale=torch.tensor([0.8]))
    decoded = decoder.decode(truth, mesh=False)
    targets = FaceTargets(torch.rand(1, 3, 224, 224, generator=generator), decoded.landmarks_68, decoded.dense)
    start = truth.replace(identity=torch.zeros_like(truth.identity),
                          expression=torch.full_like(truth.expression, 0.2))
    short = FitConfig(pose_steps=2, shape_steps=5, appearance_steps=1)
    held = PhotoFitter(decoder, replace(short, hold_expression=True)).predict(targets, init=start)
    free = PhotoFitter(decoder, short).predict(targets, init=start)
    assert torch.equal(held.expression, start.expression)
    assert not torch.equal(free.expression, start.expression)
    assert not torch.equal(held.identity, start.identity)
    kept = PhotoFitter(decoder, replace(short, hold_identity=True)).predict(targets, init=start)
    assert torch.equal(kept.identity, start.identity)  # the regressor's identity, kept (`--method emoca`)
    assert not torch.equal(kept.expression, start.expression)


def test_the_closed_form_camera_puts_a_face_back_on_its_points(ict_model):
    decoder = FaceDecoder(ict_model)
    generator = torch.Generator().manual_seed(4)
    truth = decoder.neutral(2).replace(identity=torch.randn(2, ict_model.n_identity, generator=generator) * 0.5,
                                       rotation=torch.tensor([[0.1, 0.3, 0.0], [-0.1, -0.2, 0.05]]),
                                       scale=torch.tensor([0.8, 0.6]), offset=torch.tensor([[0.05, -0.1], [-0.1, 0.0]]))
    decoded = decoder.decode(truth, mesh=False)
    targets = FaceTargets(torch.zeros(2, 3, 224, 224), decoded.landmarks_68, decoded.dense)
    moved = truth.replace(scale=truth.scale * 1.3, offset=truth.offset + 0.2)
    solved = fit_camera(decoder, moved, targets)
    torch.testing.assert_close(solved.scale, truth.scale, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(solved.offset, truth.offset, atol=1e-4, rtol=1e-4)
    assert torch.equal(solved.identity, truth.identity) and torch.equal(solved.rotation, truth.rotation)


class _Recorder:
    """A stand-in predictor: returns `result` and records what it was called with."""

    def __init__(self, result, steps=None):
        self.result, self.calls, self.steps = result, [], steps

    def predict(self, targets, init=None, anchor=None, identity=None, shared_identity=False):
        self.calls.append({"targets": targets, "init": init, "anchor": anchor, "identity": identity,
                           "shared_identity": shared_identity})
        return self.result

    def per_frame(self, steps):
        return _Recorder(self.result, steps)


def test_refined_starts_the_second_predictor_from_the_first_and_passes_the_caller_s_choices():
    first, then = _Recorder("start"), _Recorder("refined")
    identity, anchor = torch.zeros(3), "previous frame"
    assert Refined(first, then).predict("targets", anchor=anchor, identity=identity, shared_identity=True) == "refined"
    assert first.calls == [{"targets": "targets", "init": None, "anchor": None, "identity": identity,
                            "shared_identity": True}]  # the first predicts afresh: no anchor to follow
    assert then.calls == [{"targets": "targets", "init": "start", "anchor": anchor, "identity": identity,
                           "shared_identity": True}]
    frames = Refined(first, then).per_frame((0, 16, 0, 3))
    assert (frames.first.steps, frames.then.steps) == ((0, 16, 0, 3), (0, 16, 0, 3))
