"""OBJ/PLY/GLB written and read back; atomic writes."""

import numpy as np
import pygltflib
import pytest
import trimesh

from emoca.facemodel.ict_files import read_obj
from emoca.io.atomic import atomic_path
from emoca.io.mesh_export import write_glb, write_mtl, write_obj, write_ply


@pytest.fixture
def tetra():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    triangles = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    uv = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [0.5, 0.5]], np.float32)
    triangles_uv = np.array([[0, 2, 1], [0, 1, 3], [4, 3, 2], [1, 2, 3]])  # vertex 0 has two UVs: a seam
    return vertices, triangles, uv, triangles_uv


def test_obj_round_trip_with_uvs(tmp_path, tetra):
    vertices, triangles, uv, triangles_uv = tetra
    path = tmp_path / "mesh.obj"
    write_obj(path, vertices, triangles, "cm", uv, triangles_uv)
    v, vt, f, fuv = read_obj(path)
    np.testing.assert_allclose(v, vertices, atol=1e-6)
    np.testing.assert_allclose(vt, uv, atol=1e-6)
    assert (f[:, :3] == triangles).all() and (fuv[:, :3] == triangles_uv).all() and (f[:, 3] == -1).all()
    assert path.read_text().startswith("# emoca mesh, units: cm")


def test_a_textured_obj_names_its_material_and_trimesh_finds_the_texture(tmp_path, tetra):
    from PIL import Image

    vertices, triangles, uv, triangles_uv = tetra
    Image.fromarray(np.full((8, 16, 3), (200, 30, 40), np.uint8)).save(tmp_path / "texture.png")
    write_mtl(tmp_path / "mesh.mtl", "texture.png")
    write_obj(tmp_path / "mesh.obj", vertices, triangles, "cm", uv, triangles_uv, material="mesh.mtl")
    text = (tmp_path / "mesh.obj").read_text()
    assert "mtllib mesh.mtl\n" in text and text.index("usemtl face") < text.index("\nf ")
    v, vt, f, fuv = read_obj(tmp_path / "mesh.obj")  # the geometry reads as before
    np.testing.assert_allclose(v, vertices, atol=1e-6)
    loaded = trimesh.load(tmp_path / "mesh.obj", process=False)
    image = loaded.visual.material.image
    assert image is not None and image.size == (16, 8) and image.getpixel((3, 3))[:3] == (200, 30, 40)


def test_ply_round_trip_with_colours(tmp_path, tetra):
    vertices, triangles, *_ = tetra
    path = tmp_path / "mesh.ply"
    colours = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], float)
    write_ply(path, vertices, triangles, "m", colours)
    mesh = trimesh.load(path, process=False)
    np.testing.assert_allclose(mesh.vertices, vertices, atol=1e-6)
    assert (mesh.faces == triangles).all()
    assert (mesh.visual.vertex_colors[:, :3] == colours * 255).all()
    assert b"comment units m" in path.read_bytes()[:200]


def test_glb_has_named_morph_targets_in_metres(tmp_path, tetra, validate_gltf):
    vertices, triangles, uv, triangles_uv = tetra
    deltas = np.zeros((3, 4, 3), np.float32)
    deltas[1, 3, 2] = 2.0  # target 1 lifts vertex 3 by 2 cm
    path = tmp_path / "face.glb"
    write_glb(path, vertices, triangles, "cm", deltas, ["a", "b", "c"], uv, triangles_uv)
    gltf = pygltflib.GLTF2().load(str(path))
    primitive = gltf.meshes[0].primitives[0]
    assert len(primitive.targets) == 3 and gltf.meshes[0].extras["targetNames"] == ["a", "b", "c"]
    blob = gltf.binary_blob()

    def read(accessor_index, width):
        accessor = gltf.accessors[accessor_index]
        view = gltf.bufferViews[accessor.bufferView]
        dtype = np.uint32 if accessor.componentType == pygltflib.UNSIGNED_INT else np.float32
        return np.frombuffer(blob, dtype, accessor.count * width, view.byteOffset).reshape(accessor.count, width)

    positions = read(primitive.attributes.POSITION, 3)
    assert len(positions) == 5  # the UV seam duplicated one vertex
    lifted = read(primitive.targets[1]["POSITION"], 3)
    assert lifted[:, 2].max() == pytest.approx(0.02)  # 2 cm in metres
    faces = read(primitive.indices, 1).reshape(-1, 3)
    np.testing.assert_allclose(positions[faces] * 100, vertices[triangles], atol=1e-5)
    loaded = trimesh.load(path, force="mesh", process=False)
    assert len(loaded.faces) == 4
    assert validate_gltf(path)[0]["errors"] == 0


def test_ict_glb_has_53_morph_targets(tmp_path, ict_model, validate_gltf):
    path = tmp_path / "face.glb"
    write_glb(path, ict_model.template.numpy(), ict_model.triangles.numpy(), "cm",
              ict_model.expression_basis.numpy(), ict_model.expression_names, ict_model.uv.numpy(),
              ict_model.triangles_uv.numpy())
    gltf = pygltflib.GLTF2().load(str(path))
    assert len(gltf.meshes[0].primitives[0].targets) == 53
    assert gltf.meshes[0].extras["targetNames"][26] == "jawOpen"
    (report,) = validate_gltf(path)  # what `emoca demo` writes
    assert report["errors"] == 0, report["messages"]


def test_a_textured_glb_embeds_its_png_as_the_base_colour_and_validates(tmp_path, tetra, validate_gltf):
    from io import BytesIO

    from PIL import Image

    vertices, triangles, uv, triangles_uv = tetra
    buffer = BytesIO()
    Image.fromarray(np.full((8, 16, 3), (10, 200, 30), np.uint8)).save(buffer, format="PNG")
    path = tmp_path / "face.glb"
    write_glb(path, vertices, triangles, "cm", np.zeros((1, 4, 3), np.float32), ["a"], uv, triangles_uv,
              texture_png=buffer.getvalue())
    gltf = pygltflib.GLTF2().load(str(path))
    assert gltf.meshes[0].primitives[0].material == 0
    assert gltf.materials[0].pbrMetallicRoughness.baseColorTexture.index == 0
    image = gltf.images[gltf.textures[0].source]
    view = gltf.bufferViews[image.bufferView]
    assert image.mimeType == "image/png"
    assert gltf.binary_blob()[view.byteOffset:view.byteOffset + view.byteLength] == buffer.getvalue()
    (report,) = validate_gltf(path)
    assert report["errors"] == 0, report["messages"]
    with pytest.raises(ValueError, match="texture coordinates"):
        write_glb(tmp_path / "bad.glb", vertices, triangles, "cm", np.zeros((1, 4, 3)), ["a"],
                  texture_png=buffer.getvalue())


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "params.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["params.json"]
