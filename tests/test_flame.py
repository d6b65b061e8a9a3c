"""FLAME: a synthetic pickle with FLAME's layout (chumpy objects included), LBS, and hostile files."""

import math
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse
import torch

from emoca.errors import InputError
from emoca.facemodel.flame import FLAMEConfig, FLAMEFaceModel, load_flame_arrays, skinning_transforms

N_VERTICES = 6


class _FakeChumpyModule:
    """Registers a `chumpy.ch.Ch` class while pickling, as FLAME files reference it."""

    def __enter__(self):
        chumpy = types.ModuleType("chumpy")
        ch = types.ModuleType("chumpy.ch")

        class Ch:
            def __init__(self, x):
                self.x = x

        Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
        ch.Ch = Ch
        chumpy.ch = ch
        self.saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
        sys.modules.update({"chumpy": chumpy, "chumpy.ch": ch})
        return Ch

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value


def _flame_dict(rng):
    """Tiny FLAME: 6 vertices; vertices 0-2 follow the root, 3-5 the jaw (joint 2)."""
    v_template = rng.normal(size=(N_VERTICES, 3)).astype(np.float64)
    weights = np.zeros((N_VERTICES, 5))
    weights[:3, 0] = 1
    weights[3:, 2] = 1
    regressor = np.zeros((5, N_VERTICES))
    regressor[0, 0] = 1  # root at vertex 0
    regressor[1, 1] = 1
    regressor[2, [3, 4]] = 0.5  # jaw between vertices 3 and 4
    regressor[3, 2] = regressor[4, 5] = 1
    return {
        "v_template": v_template,
        "f": np.array([[0, 1, 2], [3, 4, 5], [0, 2, 3]], np.uint32),
        "shapedirs": rng.normal(size=(N_VERTICES, 3, 400)) * 0.01,
        "posedirs": rng.normal(size=(N_VERTICES, 3, 36)) * 0.01,
        "J_regressor": scipy.sparse.csc_matrix(regressor),
        "weights": weights,
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], np.int64),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


@pytest.fixture
def flame_pickle(tmp_path):
    rng = np.random.default_rng(0)
    data = _flame_dict(rng)
    with _FakeChumpyModule() as Ch:
        data["shapedirs"] = Ch(data["shapedirs"])
        path = tmp_path / "generic_model.pkl"
        path.write_bytes(pickle.dumps(data, protocol=2))
    return path, _flame_dict(np.random.default_rng(0))


def _embedding(tmp_path, name="landmark_embedding.npy"):
    embedding = {"full_lmk_faces_idx": np.zeros((1, 68), np.int64),
                 "full_lmk_bary_coords": np.tile([[0.2, 0.3, 0.5]], (1, 68, 1))}
    path = tmp_path / name
    np.save(path, np.array(embedding, dtype=object), allow_pickle=True)
    return path


def test_loader_reads_chumpy_and_sparse_without_chumpy(flame_pickle):
    path, reference = flame_pickle
    assert "chumpy" not in sys.modules
    arrays = load_flame_arrays(path)
    np.testing.assert_allclose(arrays["shapedirs"], reference["shapedirs"])
    np.testing.assert_allclose(arrays["J_regressor"], reference["J_regressor"].toarray())
    assert arrays["f"].shape == (3, 3)


def test_zero_pose_is_template_plus_blendshapes(flame_pickle):
    path, ref = flame_pickle
    model = FLAMEFaceModel(FLAMEConfig(path=str(path)))
    assert model.units == "m" and model.n_identity == 300 and len(model.expression_names) == 100
    params = model.neutral_parameters(1)
    params["identity"][0, 5] = 2.0
    params["expression"][0, 7] = -1.0
    out = model(**params)
    expected = ref["v_template"] + 2.0 * ref["shapedirs"][:, :, 5] - ref["shapedirs"][:, :, 307]
    np.testing.assert_allclose(out.vertices[0].numpy(), expected, atol=1e-5)
    assert out.landmarks_68 is None  # no embedding beside this model


def test_jaw_rotation_turns_jaw_vertices_about_the_jaw_joint_and_adds_correctives(flame_pickle):
    path, ref = flame_pickle
    model = FLAMEFaceModel(FLAMEConfig(path=str(path)))
    params = model.neutral_parameters(1)
    angle = math.pi / 2
    jaw = torch.tensor([[angle, 0.0, 0.0]])
    out = model(**params, jaw=jaw).vertices[0].numpy().astype(np.float64)
    # Hand computation: pose feature = R_jaw - I in the jaw slot (joint 2 -> entries 9..17).
    rot = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float)  # 90 degrees about +x
    feature = np.zeros(36)
    feature[9:18] = (rot - np.eye(3)).reshape(-1)
    posed = ref["v_template"] + ref["posedirs"] @ feature
    joint = 0.5 * (ref["v_template"][3] + ref["v_template"][4])
    expected = posed.copy()
    expected[3:] = (posed[3:] - joint) @ rot.T + joint
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_head_rotation_is_about_the_origin_then_translation(flame_pickle):
    path, ref = flame_pickle
    model = FLAMEFaceModel(FLAMEConfig(path=str(path)))
    params = model.neutral_parameters(1)
    params["rotation"] = torch.tensor([[0.0, 0.0, math.pi]])
    params["translation"] = torch.tensor([[0.1, 0.2, 0.3]])
    out = model(**params).vertices[0].numpy()
    expected = ref["v_template"] * [-1, -1, 1] + [0.1, 0.2, 0.3]
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_skinning_transforms_chain_parents():
    rotations = torch.eye(3).expand(1, 3, 3, 3).clone()
    rotations[0, 0] = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])  # root: 90 degrees about z
    joints = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [2, 0, 0]]])
    transforms = skinning_transforms(rotations, joints, [-1, 0, 1])
    point = torch.tensor([2.0, 0.0, 0.0, 1.0])
    moved = transforms[0, 2] @ point
    torch.testing.assert_close(moved, torch.tensor([0.0, 2.0, 0.0]), atol=1e-6, rtol=0)


def test_landmark_embedding_beside_the_model_is_used(flame_pickle, tmp_path):
    path, ref = flame_pickle
    _embedding(tmp_path)
    model = FLAMEFaceModel(FLAMEConfig(path=str(path)))
    lm = model(**model.neutral_parameters(1)).landmarks_68
    expected = ref["v_template"][[0, 1, 2]].T @ np.array([0.2, 0.3, 0.5])
    assert lm.shape == (1, 68, 3)
    np.testing.assert_allclose(lm[0, 10].numpy(), expected, atol=1e-6)


def test_pickle_that_imports_os_system_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            import os

            return os.system, (f"touch {marker}",)

    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps({"v_template": Evil()}, protocol=2))
    with pytest.raises(InputError, match=r"refusing to load (posix|os)\.system") as info:
        FLAMEFaceModel(FLAMEConfig(path=str(path)))
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert not marker.exists()


def test_evil_landmark_embedding_npy_is_refused(flame_pickle, tmp_path):
    path, _ = flame_pickle
    embedding = tmp_path / "evil.npy"
    with open(embedding, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "|O", "fortran_order": False, "shape": ()})
        handle.write(b"cos\nsystem\n(S'echo hacked'\ntR.")
    with pytest.raises(InputError, match="refusing to load os.system"):
        FLAMEFaceModel(FLAMEConfig(path=str(path), landmark_embedding=str(embedding)))


def test_pickle_that_is_not_a_flame_model(tmp_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"weights": np.zeros(3)}))
    with pytest.raises(InputError, match="not a FLAME model: keys missing"):
        load_flame_arrays(path)
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(InputError, match="holds a list"):
        load_flame_arrays(path)


def test_truncated_and_missing_pickles(flame_pickle, tmp_path):
    path, _ = flame_pickle
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match="truncated.pkl: not a readable pickle"):
        load_flame_arrays(truncated)
    with pytest.raises(InputError, match="missing.pkl: file does not exist"):
        load_flame_arrays(tmp_path / "missing.pkl")
