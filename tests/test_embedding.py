"""The learned landmark embedding on the ICT mesh and the named closure pairs."""

import numpy as np
import pytest
import torch

from emoca.datasets.helen import nme
from emoca.detect.pipeline import FaceLandmarker
from emoca.facemodel.landmark_sets import IBUG_EYE_PAIRS, IBUG_LIP_PAIRS, MEDIAPIPE_EYE_PAIRS, MEDIAPIPE_LIP_PAIRS
from emoca.render.camera import weak_perspective
from emoca.render.renderer import Renderer, RendererConfig
from emoca.render.shading import default_light
from emoca.train.landmark_embedding import SIZE, eye_albedo


def test_embedded_points_reproject_onto_detections_of_a_new_render(ict_model):
    generator = torch.Generator().manual_seed(2024)  # not a seed the embedding was learned with
    params = ict_model.neutral_parameters(1)
    params["identity"] = torch.randn(1, ict_model.n_identity, generator=generator) * 0.8
    params["rotation"][0, 1] = 0.15
    scale, offset = torch.tensor([1.75 / 34.0 * 1.3]), torch.tensor([[0.0, 0.1]])
    with torch.no_grad():
        face = ict_model(**params)
        screen = weak_perspective(face.vertices, scale, offset, (SIZE, SIZE))
        renderer = Renderer(ict_model.triangles, config=RendererConfig(image_size=(SIZE, SIZE)))
        image = renderer(face.vertices, screen, eye_albedo(ict_model), default_light(1)).image
        project = lambda points: weak_perspective(points, scale, offset, (SIZE, SIZE))[0, :, :2].numpy() - 0.5  # noqa: E731
        dense = project(ict_model.surface_landmarks(face.vertices, "dense"))
        ibug = project(ict_model.surface_landmarks(face.vertices, "ibug"))
    detected = FaceLandmarker()((image[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8))[0]
    eye_distance = np.linalg.norm(detected.landmarks_68[36] - detected.landmarks_68[45])
    assert np.linalg.norm(dense - detected.dense[:, :2], axis=1).mean() / eye_distance < 0.04
    assert nme(ibug, detected.landmarks_68) < 0.04


@pytest.mark.parametrize("which,eyes,lips", [("ibug", IBUG_EYE_PAIRS, IBUG_LIP_PAIRS),
                                             ("dense", MEDIAPIPE_EYE_PAIRS, MEDIAPIPE_LIP_PAIRS)])
def test_closure_pairs_are_upper_over_lower_on_the_model(ict_model, which, eyes, lips):
    expression = torch.zeros(1, len(ict_model.expression_names))
    expression[0, ict_model.expression_index("jawOpen")] = 0.4  # lips apart; the neutral's touch
    vertices = ict_model.shape(torch.zeros(1, ict_model.n_identity), expression)
    points = ict_model.surface_landmarks(vertices, which)[0]  # y up, cm
    for upper, lower in [*eyes["right"], *eyes["left"], *lips]:
        gap = points[upper] - points[lower]
        assert gap[1] > 0.02 and abs(gap[0]) < 0.4, (upper, lower, gap)
    # The subject's right eye is at -x (image left when facing the camera).
    assert points[eyes["right"][0][0], 0] < 0 < points[eyes["left"][0][0], 0]


def test_unknown_embedding_is_a_clear_error(ict_model):
    with pytest.raises(ValueError, match="no 'nope' landmark embedding"):
        ict_model.surface_landmarks(ict_model.template[None], "nope")
