"""Fitting FLAME, on ICT written in FLAME's file layout (`emoca.facemodel.ict_as_flame`): the same
surface as ICT, so every FLAME result has a known answer."""

import json

import numpy as np
import pytest
import torch

from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.decode.decoder import FaceDecoder
from emoca.facemodel.flame import FLAMEConfig, FLAMEFaceModel
from emoca.facemodel.ict_as_flame import write_ict_as_flame
from emoca.predictors.fitter import PhotoFitter
from emoca.render.camera import weak_perspective
from emoca.render.renderer import Renderer, RendererConfig
from emoca.targets import FaceTargets

SIZE = 224
PHOTO = HELEN.parent / "london" / "smiling" / "001.jpg"


@pytest.fixture(scope="module")
def flame_file(ict_model, tmp_path_factory) -> str:
    return str(write_ict_as_flame(tmp_path_factory.mktemp("flame"), ict_model))


@pytest.fixture(scope="module")
def flame_model(flame_file) -> FLAMEFaceModel:
    return FLAMEFaceModel(FLAMEConfig(path=flame_file))


def test_ict_in_flame_layout_is_the_same_surface(ict_model, flame_model):
    generator = torch.Generator().manual_seed(0)
    identity = torch.randn(2, ict_model.n_identity, generator=generator)
    expression = torch.rand(2, 53, generator=generator) * 0.5
    rotation = torch.tensor([[0.1, -0.3, 0.05], [0.0, 0.2, 0.0]])
    ict = ict_model(identity, expression, rotation, torch.zeros(2, 3)).vertices
    padded = torch.cat([identity, torch.zeros(2, flame_model.n_identity - ict_model.n_identity)], 1)
    flame = flame_model(padded, expression, rotation, torch.zeros(2, 3)).vertices
    torch.testing.assert_close(flame * 100, ict, atol=1e-3, rtol=0)  # metres vs cm
    torch.testing.assert_close(flame_model.surface_landmarks(flame, "ibug") * 100,
                               ict_model.surface_landmarks(ict, "ibug"), atol=1e-3, rtol=0)
    assert flame_model.regions["face"].sum() > 5000  # derived from the 68 points: the front of the head


def _scene(model: FLAMEFaceModel, ict_model, jaw: float):
    """A rendered FLAME face (turned, jaw opened by `jaw` rad) and fit targets from its exact points."""
    generator = torch.Generator().manual_seed(1)
    identity = torch.zeros(1, model.n_identity)
    identity[:, :ict_model.n_identity] = torch.randn(1, ict_model.n_identity, generator=generator) * 0.7
    rotation = torch.tensor([[0.05, 0.25, 0.0]])
    vertices = model(identity, torch.zeros(1, len(model.expression_names)), rotation, torch.zeros(1, 3),
                     jaw=torch.tensor([[jaw, 0.0, 0.0]])).vertices
    scale, offset = torch.tensor([5.5]), torch.tensor([[0.0, 0.05]])
    screen = weak_perspective(vertices, scale, offset, (SIZE, SIZE))
    renderer = Renderer(model.triangles, config=RendererConfig(image_size=(SIZE, SIZE)))
    albedo = torch.full((1, model.n_vertices, 3), 0.6)
    light = torch.zeros(1, 9, 3)
    light[:, 0] = 2.0
    image = renderer(vertices, screen, albedo, light, torch.full((1, 3, SIZE, SIZE), 0.2)).image
    pixels = lambda points: weak_perspective(points, scale, offset, (SIZE, SIZE))[..., :2] - 0.5  # noqa: E731
    ibug = pixels(model.surface_landmarks(vertices, "ibug"))
    dense = pixels(ict_model.surface_landmarks(vertices * 100, "dense"))  # same surface: the face oval mask
    return FaceTargets(image, ibug, dense), vertices


def test_fit_recovers_an_open_jaw_with_the_jaw_joint(flame_model, ict_model):
    decoder = FaceDecoder(flame_model)
    closed, _ = _scene(flame_model, ict_model, 0.0)
    opened, truth = _scene(flame_model, ict_model, 0.3)
    result = PhotoFitter(decoder).predict(FaceTargets.concat([closed, opened]))
    assert result.expression.shape == (2, len(flame_model.expression_names))
    jaw = result.jaw
    decoded = decoder.decode(result)
    assert jaw[1, 0] > jaw[0, 0] + 0.05  # the jaw joint takes part (the stand-in also has ICT's jawOpen shape)
    assert (jaw[:, 1:].abs() <= 0.15 + 1e-6).all() and (jaw[:, 0] >= 0).all()  # kept in its box
    eye = (opened.landmarks_68[0, 36] - opened.landmarks_68[0, 45]).norm()
    error = (decoded.landmarks_68[1] - opened.landmarks_68[0]).norm(dim=-1)
    assert error[17:].mean() / eye < 0.03  # the inner 68 points are matched within 3% of the eye distance
    gap = lambda points: (points[:, 66] - points[:, 62]).norm(dim=-1)  # noqa: E731 inner lips, metres
    fitted_gap = gap(flame_model.surface_landmarks(decoded.vertices[1:], "ibug"))
    true_gap = gap(flame_model.surface_landmarks(truth, "ibug"))
    assert abs(float(fitted_gap - true_gap)) < 0.3 * float(true_gap)


def test_reconstruct_with_flame_writes_the_jaw_and_a_mesh_without_uvs(tmp_path, run_emoca, flame_file):
    result = run_emoca("reconstruct", PHOTO, "--out", tmp_path / "out", "--model", "flame", "--flame", flame_file)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "out" / PHOTO.stem
    face = json.loads((folder / "params.json").read_text())["faces"][0]
    assert face["model"] == "flame" and len(face["jaw"]["rotation"]) == 3
    assert len(face["expression"]) == 53 and face["albedo"]["type"] == "regions+symmetric_cosine"
    mesh = (folder / "mesh.obj").read_text()
    assert "units: m" in mesh and "\nvt " not in mesh and "mtllib" not in mesh  # no UVs: no texture
    vertices = np.array([line.split()[1:] for line in mesh.splitlines() if line.startswith("v ")], float)
    assert 0.1 < np.ptp(vertices[:, 1]) < 0.5  # a head in metres


def test_flame_without_a_file_or_an_embedding_is_one_line_error(tmp_path, run_emoca, flame_file):
    result = run_emoca("reconstruct", PHOTO, "--out", tmp_path / "out", "--model", "flame")
    assert result.returncode != 0 and "--flame" in result.stderr and "Traceback" not in result.stderr
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "generic_model.pkl").write_bytes(open(flame_file, "rb").read())
    result = run_emoca("reconstruct", PHOTO, "--out", tmp_path / "out", "--model", "flame",
                       "--flame", alone / "generic_model.pkl")
    assert result.returncode != 0 and "landmark embedding" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # failed before any work
