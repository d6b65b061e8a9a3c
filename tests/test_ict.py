"""ICT-FaceKit model: loading, counts, landmarks, blendshapes against the original OBJ, gaze, bad input."""

import os
import zipfile

import numpy as np
import pytest
import torch

from emoca.errors import InputError
from emoca.facemodel.ict import LANDMARK_VERTICES, ICTConfig, ICTFaceModel, triangulate
from emoca.facemodel.ict_files import EXPRESSION_NAMES, read_ict, read_obj

SHARED_OBJ = "obj"


def test_npz_has_the_documented_counts(ict_arrays):
    assert ict_arrays["neutral"].shape == (26719, 3)
    assert ict_arrays["identity_deltas"].shape == (100, 26719, 3)
    assert ict_arrays["expression_deltas"].shape == (53, 26719, 3)
    assert list(ict_arrays["expression_names"]) == list(EXPRESSION_NAMES)


def test_render_mesh_keeps_face_head_sockets_and_eyeballs(ict_model):
    ids = ict_model.vertex_ids.numpy()
    # face 0-9408, head/neck 9409-11247, eye sockets 13294-14061, eyeballs 21451-24590.
    assert np.all(np.isin(np.arange(0, 11248), ids))
    assert np.all(np.isin(np.arange(13294, 14062), ids))
    assert np.all(np.isin(np.arange(21451, 24591), ids))
    assert not np.isin(np.arange(14062, 21451), ids).any()  # no gums, tongue, teeth
    assert ict_model.n_vertices == len(ids) == 15156
    assert ict_model.triangles.max() < ict_model.n_vertices
    assert ict_model.n_identity == 100 and len(ict_model.expression_names) == 53


def test_mouth_interior_is_optional(ict_source):
    with_mouth = ICTFaceModel(ICTConfig(regions=("face", "head_neck", "mouth_socket")))
    assert np.isin(np.arange(11248, 13294), with_mouth.vertex_ids.numpy()).all()


def test_unknown_region_is_refused():
    with pytest.raises(ValueError, match="unknown ICT regions"):
        ICTFaceModel(ICTConfig(regions=("face", "hair")))


def test_neutral_landmarks_are_the_documented_vertices(ict_model, ict_arrays):
    out = ict_model(**ict_model.neutral_parameters(1))
    expected = ict_arrays["neutral"][list(LANDMARK_VERTICES)]
    np.testing.assert_allclose(ict_model.landmarks_68(out.vertices)[0].numpy(), expected, atol=1e-6)
    # the forward's points are the learned places the fitter and decoder read
    torch.testing.assert_close(out.landmarks_68, ict_model.surface_landmarks(out.vertices, "ibug"))
    # Anatomy in model axes: subject's left eye corner (45) at +x, nose tip (30) in front, chin (8) low.
    lm = expected
    assert lm[45, 0] > 0 > lm[36, 0]
    assert lm[30, 2] > lm[36, 2] and lm[8, 1] < lm[30, 1] < lm[27, 1]


def test_neutral_plus_jaw_open_reproduces_the_original_obj(ict_model, ict_source):
    vertices, *_ = read_obj(ict_source.parent / SHARED_OBJ / "jawOpen.obj")
    params = ict_model.neutral_parameters(1)
    params["expression"][0, ict_model.expression_index("jawOpen")] = 1.0
    out = ict_model(**params).vertices[0].numpy()
    np.testing.assert_allclose(out, vertices[ict_model.vertex_ids.numpy()], atol=1e-5)


def test_identity_and_pose_are_linear_then_rigid(ict_model):
    torch.manual_seed(0)
    params = ict_model.neutral_parameters(2)
    params["identity"] = torch.randn(2, 100)
    base = ict_model(**params).vertices
    params["rotation"] = torch.tensor([[0.0, np.pi / 2, 0.0], [0.0, 0.0, 0.0]])
    params["translation"] = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    moved = ict_model(**params).vertices
    # 90 degrees about +y: (x, y, z) -> (z, y, -x).
    expected0 = torch.stack([base[0, :, 2], base[0, :, 1], -base[0, :, 0]], -1)
    torch.testing.assert_close(moved[0], expected0, atol=1e-4, rtol=0)
    torch.testing.assert_close(moved[1], base[1] + torch.tensor([1.0, 2.0, 3.0]), atol=1e-5, rtol=0)


def test_gaze_turns_the_eyeballs_and_drives_the_eye_look_shapes(ict_model):
    params = ict_model.neutral_parameters(1)
    for side in ("left", "right"):
        eyeball = torch.nonzero(ict_model.regions[f"eyeball_{side}"]).squeeze(1)
        apex = eyeball[ict_model.template[eyeball, 2].argmax()]  # front of the cornea
        still = ict_model(**params).vertices[0, apex]
        look_left = ict_model(**params, gaze=torch.tensor([[0.3, 0.0]])).vertices[0, apex]
        look_up = ict_model(**params, gaze=torch.tensor([[0.0, 0.3]])).vertices[0, apex]
        # The cornea is ~1.6 cm from the eye's centre: 0.3 rad moves it ~0.47 cm.
        assert 0.4 < (look_left - still)[0] < 0.55 and abs((look_left - still)[1]) < 1e-5
        assert 0.4 < (look_up - still)[1] < 0.55 and abs((look_up - still)[0]) < 1e-5
    weights = ict_model.gaze_to_expression(torch.tensor([[np.deg2rad(30.0), 0.0]]))[0]
    assert weights[ict_model.expression_index("eyeLookOut_L")] == pytest.approx(1.0)
    assert weights[ict_model.expression_index("eyeLookIn_R")] == pytest.approx(1.0)
    assert weights[ict_model.expression_index("eyeLookIn_L")] == 0


def test_triangulate_splits_quads_and_keeps_triangles():
    polygons = np.array([[0, 1, 2, 3], [4, 5, 6, -1]])
    tris = triangulate(polygons)
    assert tris.tolist() == [[0, 1, 2], [4, 5, 6], [0, 2, 3]]


def _write_obj(path, vertices, uv, faces, faces_uv):
    lines = [f"v {x} {y} {z}" for x, y, z in vertices] + [f"vt {u} {v}" for u, v in uv]
    for f, t in zip(faces, faces_uv, strict=True):
        n = 3 if f[3] < 0 else 4
        lines.append("f " + " ".join(f"{f[i] + 1}/{t[i] + 1}" for i in range(n)))
    path.write_text("\n".join(lines) + "\n")


def _tiny_obj_folder(folder, ict_arrays, n_identity=3):
    """An ICT-layout OBJ folder over the first polygons of the real model (values from the npz)."""
    faces = ict_arrays["faces"][:40].copy()
    faces_uv = ict_arrays["faces_uv"][:40].copy()
    faces[5, 3], faces_uv[5, 3] = -1, -1  # a triangle among the quads
    used = np.unique(faces[faces >= 0])
    used_uv = np.unique(faces_uv[faces_uv >= 0])
    remap = np.full(ict_arrays["neutral"].shape[0], -1)
    remap[used] = np.arange(len(used))
    remap_uv = np.full(len(ict_arrays["uv"]), -1)
    remap_uv[used_uv] = np.arange(len(used_uv))
    faces = np.where(faces >= 0, remap[faces], -1)
    faces_uv = np.where(faces_uv >= 0, remap_uv[faces_uv], -1)
    neutral = ict_arrays["neutral"][used]
    uv = ict_arrays["uv"][used_uv]
    folder.mkdir()
    _write_obj(folder / "generic_neutral_mesh.obj", neutral, uv, faces, faces_uv)
    shapes = {name: neutral + ict_arrays["expression_deltas"][i][used] for i, name in enumerate(EXPRESSION_NAMES)}
    shapes |= {f"identity{i:03d}": neutral + ict_arrays["identity_deltas"][i][used] for i in range(n_identity)}
    for name, vertices in shapes.items():
        _write_obj(folder / f"{name}.obj", vertices, uv, faces, faces_uv)
    return {"neutral": neutral, "uv": uv, "faces": faces, "faces_uv": faces_uv,
            "expression_deltas": ict_arrays["expression_deltas"][:, used],
            "identity_deltas": ict_arrays["identity_deltas"][:n_identity][:, used]}


def test_obj_folder_gives_the_same_arrays_as_the_npz(tmp_path, ict_arrays, monkeypatch):
    monkeypatch.setenv("EMOCA_CACHE", str(tmp_path / "cache"))
    expected = _tiny_obj_folder(tmp_path / "FaceXModel", ict_arrays)
    loaded = read_ict(tmp_path / "FaceXModel")
    for key in ("faces", "faces_uv"):
        np.testing.assert_array_equal(loaded[key], expected[key])
    for key in ("neutral", "uv", "expression_deltas", "identity_deltas"):
        np.testing.assert_allclose(loaded[key], expected[key], atol=2e-6)
    assert list(loaded["expression_names"]) == list(EXPRESSION_NAMES)
    # Converted once: the second read comes from the cache, and a changed shape rebuilds it.
    cached = list((tmp_path / "cache" / "ict").glob("*.npz"))
    assert len(cached) == 1
    read_ict(tmp_path / "FaceXModel")
    assert list((tmp_path / "cache" / "ict").glob("*.npz")) == cached
    obj = tmp_path / "FaceXModel" / "jawOpen.obj"
    obj.write_text(obj.read_text() + "\n")
    read_ict(tmp_path / "FaceXModel")
    assert len(list((tmp_path / "cache" / "ict").glob("*.npz"))) == 2


def test_obj_folder_missing_a_shape_names_the_file(tmp_path, ict_arrays, monkeypatch):
    monkeypatch.setenv("EMOCA_CACHE", str(tmp_path / "cache"))
    _tiny_obj_folder(tmp_path / "FaceXModel", ict_arrays)
    (tmp_path / "FaceXModel" / "mouthSmile_L.obj").unlink()
    with pytest.raises(InputError, match=r"mouthSmile_L\.obj: shape missing") as info:
        read_ict(tmp_path / "FaceXModel")
    assert "\n" not in str(info.value)


def test_missing_model_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOCA_ICT", str(tmp_path / "nowhere.npz"))
    with pytest.raises(InputError, match="nowhere.npz: ICT face model not found") as info:
        ICTFaceModel()
    assert "\n" not in str(info.value)


def test_truncated_npz_is_a_one_line_error(tmp_path, ict_source, monkeypatch):
    monkeypatch.setenv("EMOCA_CACHE", str(tmp_path / "cache"))
    truncated = tmp_path / "ict_facekit.npz"
    truncated.write_bytes(ict_source.read_bytes()[: 3_000_000])
    with pytest.raises(InputError, match="truncated or corrupt") as info:
        read_ict(truncated)
    assert str(truncated) in str(info.value) and "\n" not in str(info.value)


def test_npz_without_model_arrays_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOCA_CACHE", str(tmp_path / "cache"))
    other = tmp_path / "other.npz"
    np.savez(other, something=np.zeros(3))
    with pytest.raises(InputError, match="not an ICT model: arrays missing"):
        read_ict(other)


def test_read_only_cache_still_loads(tmp_path, ict_source, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    os.chmod(cache, 0o500)
    monkeypatch.setenv("EMOCA_CACHE", str(cache))
    try:
        assert read_ict(ict_source)["neutral"].shape == (26719, 3)
    finally:
        os.chmod(cache, 0o700)


def test_the_shipped_npz_is_a_zip_of_npy_files(ict_source):
    with zipfile.ZipFile(ict_source) as archive:
        assert "neutral.npy" in archive.namelist()


def test_inside_polygon_is_strict_and_handles_concave_outlines():
    from emoca.facemodel.geometry import inside_polygon

    notch = np.array([[0, 0], [4, 0], [4, 4], [2, 1], [0, 4]], float)  # a square with a notch from the top
    points = np.array([[1, 0.5], [3, 0.5], [2, 3], [2, 0], [5, 1], [1, 2]], float)
    assert inside_polygon(notch, points).tolist() == [True, True, False, False, False, True]
