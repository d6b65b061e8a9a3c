"""`emoca.output` as a library: a face written by `OutputWriter` and read back by `Capture` is the face the
pipeline returned, its mesh.obj is the record's unposed mesh, and the puppet built from the capture
rebuilds that mesh (the records carry what writing and animation need; nothing decodes again)."""

import time

import numpy as np
import pytest
import torch

from emoca.animation.puppet import Puppet
from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.detect.pipeline import FaceLandmarks
from emoca.facemodel.ict_files import read_obj
from emoca.io.images import load_image
from emoca.output.capture import Capture
from emoca.output.drawing import draw_landmarks
from emoca.output.writer import OutputWriter
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig

PHOTO = HELEN.parent / "london" / "smiling" / "001.jpg"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """(reconstructor, the face, its output folder): one photo through the regressor, written without texture."""
    reconstructor = Reconstructor(ReconstructorConfig(method="regress"))
    image = load_image(PHOTO)
    faces = reconstructor.reconstruct(image)
    folder = tmp_path_factory.mktemp("out") / "001"
    OutputWriter(reconstructor, texture=None).photo(PHOTO, folder, image, faces, time.perf_counter())
    return reconstructor, faces[0], folder


def test_the_capture_read_back_is_the_face_written(written):
    _, face, folder = written
    captured = Capture(folder / "params.json").first_face()
    params = face.params
    for name in ("identity", "expression", "rotation", "light", "colours", "coefficients"):
        np.testing.assert_allclose(getattr(captured, name), getattr(params, name)[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(captured.gaze, face.gaze, atol=1e-5)  # radians, 5 decimals in the file


def test_mesh_obj_is_the_records_unposed_mesh_with_the_eyes_turned(written):
    _, face, folder = written
    vertices = read_obj(folder / "mesh.obj")[0]
    np.testing.assert_allclose(vertices, face.decoded.unposed[0].numpy(), atol=1e-5)  # cm, 6 decimals in the OBJ
    assert face.gaze is not None and np.abs(face.gaze).max() > 0  # the turn is there to see


def test_the_puppet_of_the_capture_rebuilds_the_written_mesh(written):
    reconstructor, face, folder = written
    captured = Capture(folder / "params.json").first_face()
    puppet = Puppet(reconstructor.decoder, captured)
    with torch.no_grad():
        rebuilt = puppet.vertices(torch.as_tensor(captured.weights_in(puppet.names)[None]),
                                  torch.as_tensor(captured.gaze[None]))[0]
    # one weighted sum of morph targets against a decode, from the file's rounded values: within 2e-4 cm
    # (without the gaze the eyes are 0.2 cm off)
    np.testing.assert_allclose(rebuilt.numpy(), face.decoded.unposed[0].numpy(), atol=2e-4)


def test_the_overlay_draws_box_and_points_on_a_copy():
    image = np.full((200, 300, 3), 50, np.uint8)
    dense = np.column_stack([np.linspace(60, 240, 478), np.full(478, 40.0), np.zeros(478)])
    points_68 = np.column_stack([np.linspace(80, 220, 68), np.full(68, 150.0)])
    face = FaceLandmarks(np.array([50.0, 20, 250, 180]), 0.9, "mediapipe", dense, "direct", points_68)
    overlay = draw_landmarks(image, [face])
    assert (image == 50).all()  # the photo itself is untouched
    assert tuple(overlay[150, 150]) == (255, 40, 40)  # a 68 point: red
    assert tuple(overlay[40, 150]) == (0, 220, 255)  # the dense points: cyan
    assert tuple(overlay[100, 50]) == (0, 200, 0)  # the box's left edge: green
    assert tuple(overlay[100, 150]) == (50, 50, 50)  # inside the box, away from the points: the photo
    np.testing.assert_array_equal(draw_landmarks(image, []), image)
