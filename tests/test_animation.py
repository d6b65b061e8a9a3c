"""Animation and export: round trips of every format, the glTF validator, emoca animate's outputs, gaze
geometry, and bad inputs."""

import json
from pathlib import Path

import av
import numpy as np
import pygltflib
import pytest
import torch
from scipy.spatial.transform import Rotation

from emoca.animation.arkit_csv import HEADER, read_arkit_csv
from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.decode.decoder import FaceDecoder
from emoca.errors import InputError
from emoca.facemodel.arkit import ict_to_arkit
from emoca.facemodel.face_regions import REGIONS
from emoca.output.capture import Capture

FPS = 25.0
PHOTO = HELEN.parent / "london" / "smiling" / "001.jpg"


def face_record(model: str, names: list[str], identity: int, rng: np.random.Generator, jaw: bool = False) -> dict:
    """A params.json face entry with random expression, head rotation and gaze."""
    record = {
        "model": model, "identity": rng.normal(0, 0.5, identity).round(5).tolist(),
        "expression": {name: round(float(w), 5) for name, w in
                       zip(names, rng.uniform(0, 0.6, len(names)) * (rng.uniform(size=len(names)) < 0.3), strict=True)},
        "pose": {"rotation": rng.normal(0, 0.15, 3).round(5).tolist()},
        "eyes": {"gaze": rng.uniform(-0.3, 0.3, 2).round(5).tolist()},
        "light": {"coefficients": np.r_[[[2.0] * 3], np.zeros((8, 3))].tolist()},
        "albedo": {"regions": {name: [0.7, 0.55, 0.5] for name in REGIONS},
                   "uv_coefficients": np.zeros((8, 3)).tolist()},
    }
    if jaw:
        record["jaw"] = {"rotation": [0.2, 0.0, 0.0]}
        record.pop("eyes")
    return record


def write_capture(path: Path, records: list[dict | None]) -> Path:
    """A params.jsonl with one line per record (None: a frame without a face)."""
    lines = [json.dumps({"frame": i, "time_s": round(i / FPS, 4), "faces": [] if r is None else [r]})
             for i, r in enumerate(records)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def ict_capture(ict_model, tmp_path_factory) -> Path:
    rng = np.random.default_rng(3)
    records = [face_record("ict", ict_model.expression_names, 100, rng) for _ in range(9)]
    records[4] = None  # a frame without a face holds the one before
    return write_capture(tmp_path_factory.mktemp("capture") / "params.jsonl", records)


def held_faces(path: Path) -> list[dict]:
    faces, last = [], None
    for line in path.read_text().splitlines():
        found = json.loads(line)["faces"]
        last = found[0] if found else last
        faces.append(last)
    return faces


def test_arkit_csv_round_trip(ict_capture, tmp_path, run_emoca, ict_model):
    out = tmp_path / "take.csv"
    result = run_emoca("export", ict_capture, "--format", "arkit-csv", "--out", out)
    assert result.returncode == 0, result.stderr
    assert out.read_text().splitlines()[0] == ",".join(HEADER)
    frames = list(read_arkit_csv(out, FPS))
    faces = held_faces(ict_capture)
    assert len(frames) == len(faces) == 9
    for i, (frame, face) in enumerate(zip(frames, faces, strict=True)):
        weights = torch.tensor([[face["expression"][n] for n in ict_model.expression_names]], dtype=torch.float64)
        np.testing.assert_allclose(frame.coefficients, ict_to_arkit(weights)[0].numpy(), atol=1e-4)
        np.testing.assert_allclose(frame.head, face["pose"]["rotation"], atol=1e-4)
        np.testing.assert_allclose(frame.gaze, face["eyes"]["gaze"], atol=1e-4)
        assert abs(frame.time_s - i / FPS) < 1e-3
    columns = out.read_text().splitlines()[0].split(",")
    row = out.read_text().splitlines()[1].split(",")  # Live Link Face's order: JawRight before JawLeft
    assert float(row[columns.index("JawRight")]) == pytest.approx(faces[0]["expression"]["jawRight"], abs=1e-5)
    assert float(row[columns.index("TongueOut")]) == 0.0 and row[1] == "61"


def test_glb_is_valid_and_plays_the_capture(ict_capture, tmp_path, run_emoca, ict_model, validate_gltf):
    out = tmp_path / "take.glb"
    result = run_emoca("export", ict_capture, "--format", "glb", "--out", out)
    assert result.returncode == 0, result.stderr
    (report,) = validate_gltf(out)
    assert report["errors"] == 0, report["messages"]
    gltf = pygltflib.GLTF2().load(str(out))
    blob = gltf.binary_blob()

    def read(accessor_index: int, width: int) -> np.ndarray:
        accessor = gltf.accessors[accessor_index]
        view = gltf.bufferViews[accessor.bufferView]
        data = np.frombuffer(blob, np.float32, accessor.count * width, view.byteOffset + (accessor.byteOffset or 0))
        return data.reshape(accessor.count, width)

    names = gltf.meshes[0].extras["targetNames"]
    assert names[:53] == ict_model.expression_names and len(names) == 57
    animation = gltf.animations[0]
    times = read(animation.samplers[0].input, 1)[:, 0]
    weights = read(animation.samplers[0].output, 1).reshape(len(times), len(names))
    rotations = read(animation.samplers[1].output, 4)
    faces = held_faces(ict_capture)
    np.testing.assert_allclose(times, np.arange(len(faces)) / FPS, atol=1e-4)
    for row, quaternion, face in zip(weights, rotations, faces, strict=True):
        np.testing.assert_allclose(row[:53], [face["expression"][n] for n in names[:53]], atol=1e-3)  # fp16 precision
        np.testing.assert_allclose(Rotation.from_quat(quaternion).as_rotvec(), face["pose"]["rotation"], atol=1e-4)
    # The base mesh is the person's whole head (face, head and neck, eyes), in metres.
    positions = read(gltf.meshes[0].primitives[0].attributes.POSITION, 3)
    assert len(positions) >= ict_model.n_vertices and np.ptp(positions[:, 1]) > 0.2


def test_a_capture_s_texture_goes_into_its_glb_and_obj_sequence(ict_capture, tmp_path, run_emoca, validate_gltf):
    from PIL import Image

    capture = tmp_path / "capture" / "params.jsonl"
    capture.parent.mkdir()
    capture.write_text(ict_capture.read_text())
    Image.fromarray(np.full((64, 128, 3), 128, np.uint8)).save(capture.parent / "texture.png")
    assert run_emoca("export", capture, "--format", "glb", "--out", tmp_path / "take.glb").returncode == 0
    (report,) = validate_gltf(tmp_path / "take.glb")
    assert report["errors"] == 0, report["messages"]
    gltf = pygltflib.GLTF2().load(str(tmp_path / "take.glb"))
    assert gltf.materials[0].pbrMetallicRoughness.baseColorTexture is not None and len(gltf.images) == 1
    assert run_emoca("export", capture, "--format", "obj-seq", "--out", tmp_path / "frames").returncode == 0
    assert (tmp_path / "frames" / "texture.png").read_bytes() == (capture.parent / "texture.png").read_bytes()
    assert "map_Kd texture.png" in (tmp_path / "frames" / "frames.mtl").read_text()
    assert "mtllib frames.mtl" in (tmp_path / "frames" / "frame_000000.obj").read_text()[:200]
    (capture.parent / "texture.png").write_bytes(b"not a png")
    result = run_emoca("export", capture, "--format", "glb", "--out", tmp_path / "bad.glb")
    assert result.returncode != 0 and "texture.png: not a PNG image" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "bad.glb").exists()


def test_obj_sequence_round_trip(ict_capture, tmp_path, run_emoca, ict_model):
    from emoca.decode.gaze import turn_eyes
    from emoca.facemodel.geometry import rigid_transform
    from emoca.output.capture import CapturedFace

    out = tmp_path / "frames"
    assert run_emoca("export", ict_capture, "--format", "obj-seq", "--out", out).returncode == 0
    files = sorted(out.glob("*.obj"))
    assert [f.name for f in files[:2]] == ["frame_000000.obj", "frame_000001.obj"] and len(files) == 9
    decoder = FaceDecoder(ict_model)
    face = CapturedFace.from_record(held_faces(ict_capture)[6])
    params = face.params()
    with torch.no_grad():
        truth = turn_eyes(ict_model, decoder.unposed(params), torch.zeros(1, 3), torch.tensor(face.gaze[None]))
        truth = rigid_transform(truth, params.rotation, torch.zeros(1, 3))[0].numpy()
    written = np.array([line.split()[1:] for line in files[6].read_text().splitlines() if line.startswith("v ")], float)
    assert np.abs(written - truth).max() < 1e-4  # cm


def test_flame_npz_rebuilds_the_mesh(tmp_path, run_emoca, ict_model):
    from emoca.facemodel.flame import FLAMEConfig, FLAMEFaceModel
    from emoca.facemodel.ict_as_flame import write_ict_as_flame
    from emoca.output.capture import CapturedFace

    flame = FLAMEFaceModel(FLAMEConfig(path=str(write_ict_as_flame(tmp_path / "flame", ict_model))))
    rng = np.random.default_rng(5)
    records = [face_record("flame", flame.expression_names, flame.n_identity, rng, jaw=True) for _ in range(3)]
    for record in records:  # one person, as in a video
        record["identity"] = records[0]["identity"]
    capture = write_capture(tmp_path / "params.jsonl", records)
    out = tmp_path / "take.npz"
    assert run_emoca("export", capture, "--format", "flame-npz", "--out", out).returncode == 0
    data = np.load(out)
    assert data["pose"].shape == (3, 15) and data["expression"].shape == (3, len(flame.expression_names))
    decoder = FaceDecoder(flame)
    for i, record in enumerate(records):
        pose = torch.tensor(data["pose"][i:i + 1])
        rebuilt = flame(torch.tensor(data["shape"][None]), torch.tensor(data["expression"][i:i + 1]), pose[:, :3],
                        torch.tensor(data["trans"][i:i + 1]), neck=pose[:, 3:6], jaw=pose[:, 6:9], eyes=pose[:, 9:])
        params = CapturedFace.from_record(record).params()
        with torch.no_grad():
            truth = decoder.terms.posed(params.identity, decoder.vector(params), params.rotation)
        torch.testing.assert_close(rebuilt.vertices, truth, atol=1e-5, rtol=0)
    refused = run_emoca("export", capture, "--format", "arkit-csv", "--out", tmp_path / "x.csv")
    assert refused.returncode == 1 and "ICT" in refused.stderr and "Traceback" not in refused.stderr


def test_gaze_geometry_inverts_a_known_pupil(ict_model):
    """Pupils projected from a known gaze give that gaze back (the estimate's geometry, no detector): from
    the eyeball centres alone, and from the eye corners (the model's own points, the irises moved by as
    much as the gaze moves the pupils)."""
    from emoca.decode.gaze import EYES, PUPIL_DEPTH, estimate_gaze
    from emoca.facemodel.geometry import eye_rotation, sphere_centre

    decoder = FaceDecoder(ict_model)
    params = decoder.neutral(1).replace(rotation=torch.tensor([[0.1, -0.3, 0.05]]), scale=torch.tensor([0.07]))
    decoded = decoder.decode(params)
    head = torch.tensor(Rotation.from_rotvec(params.rotation[0].numpy()).as_matrix(), dtype=torch.float32)
    forward = head[:, 2]
    truth = torch.tensor([[0.2, -0.15]])
    looking = head @ eye_rotation(truth)[0] @ torch.tensor([0.0, 0.0, 1.0])  # camera frame
    absolute = np.zeros((478, 2))
    relative = decoded.dense[0].numpy().astype(np.float64).copy()
    for mask in ict_model.eyeball_masks():
        points = decoded.vertices[0][mask]
        centre = torch.as_tensor(sphere_centre(points.double().numpy()), dtype=torch.float32)
        depth = float(((points - centre) @ forward).max()) * PUPIL_DEPTH
        ahead, turned = (decoder.project((centre + depth * d)[None, None], params.scale, params.offset)[0, 0].numpy()
                         for d in (forward, looking))
        iris = min((eye[0] for eye in EYES), key=lambda i: np.abs(relative[i] - ahead).sum())
        absolute[iris] = turned
        relative[iris] += turned - ahead
    np.testing.assert_allclose(estimate_gaze(decoder, params, decoded, absolute, relative=False), truth[0], atol=0.02)
    np.testing.assert_allclose(estimate_gaze(decoder, params, decoded, relative), truth[0], atol=0.02)
    # A points-only decoding gives the same gaze: the eyeballs are posed alone, as the full mesh has them.
    np.testing.assert_allclose(estimate_gaze(decoder, params, decoder.decode(params, mesh=False), relative),
                               estimate_gaze(decoder, params, decoded, relative), atol=1e-6)
    generator = torch.Generator().manual_seed(3)
    other = params.replace(identity=torch.randn(1, ict_model.n_identity, generator=generator),
                           expression=torch.rand(1, len(ict_model.expression_names), generator=generator))
    whole, masks = decoder.decode(other).vertices, ict_model.eyeball_masks()
    assert len(masks) == 2
    for eyeball, mask in zip(decoder.eyeballs(other), masks, strict=True):
        torch.testing.assert_close(eyeball, whole[:, mask], atol=1e-4, rtol=0)


def test_animate_a_capture_onto_the_neutral_face(ict_capture, tmp_path, run_emoca, validate_gltf):
    out = tmp_path / "anim"
    result = run_emoca("animate", ict_capture, "--target", "neutral", "--out", out, "--size", "128")
    assert result.returncode == 0, result.stderr
    with av.open(str(out / "animation.mp4")) as video:
        frames = [f.to_ndarray(format="rgb24") for f in video.decode(video=0)]
    assert len(frames) == 9 and frames[0].shape == (128, 128, 3)
    assert np.abs(frames[0].astype(int) - frames[3].astype(int)).max() > 30  # the expression moves the face
    with av.open(str(out / "side_by_side.mp4")) as video:
        assert video.streams.video[0].codec_context.width == 256
    assert validate_gltf(out / "animation.glb")[0]["errors"] == 0


def test_a_target_with_a_texture_is_rendered_and_exported_with_it(ict_capture, ict_model, tmp_path, run_emoca,
                                                                   validate_gltf):
    from PIL import Image

    target = tmp_path / "target" / "params.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"image": "t.jpg", "faces": [held_faces(ict_capture)[0]]}))
    renders = {}
    for textured in (False, True):
        if textured:  # a green face: the texture, not the albedo model's skin colours, is rendered
            Image.fromarray(np.tile(np.uint8([40, 200, 60]), (64, 128, 1))).save(target.parent / "texture.png")
        out = tmp_path / f"anim_{textured}"
        result = run_emoca("animate", ict_capture, "--target", target, "--out", out, "--size", "128")
        assert result.returncode == 0, result.stderr
        with av.open(str(out / "animation.mp4")) as video:
            renders[textured] = next(video.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    face = np.abs(renders[False] - renders[False][2, 2]).sum(-1) > 30
    assert renders[True][face][:, 1].mean() > renders[True][face][:, 0].mean() + 50  # green where the face is
    assert renders[False][face][:, 0].mean() > renders[False][face][:, 1].mean()  # skin: more red than green
    gltf = pygltflib.GLTF2().load(str(tmp_path / "anim_True" / "animation.glb"))
    assert gltf.materials and len(gltf.images) == 1
    assert validate_gltf(tmp_path / "anim_True" / "animation.glb")[0]["errors"] == 0


def test_animate_a_video_keeps_its_audio(tmp_path, run_emoca):
    from emoca.io.video import VideoReader, VideoWriter

    sample = HELEN.parent / "video" / "WolfgangLanger_Pexels.mp4"
    clip = tmp_path / "clip.mp4"
    reader = VideoReader(sample)
    with VideoWriter(clip, reader.fps, (reader.width, reader.height), audio_from=sample) as writer:
        for index, frame in enumerate(reader):
            if index == 10:
                break
            writer.write(frame)
    out = tmp_path / "anim"
    result = run_emoca("animate", clip, "--target", PHOTO, "--out", out)
    assert result.returncode == 0, result.stderr
    for name in ("animation.mp4", "side_by_side.mp4"):
        with av.open(str(out / name)) as video:
            assert video.streams.audio and video.streams.video[0].frames == 10
            assert video.streams.video[0].codec_context.height == reader.height - reader.height % 2
    still = run_emoca("animate", PHOTO, "--target", "neutral", "--out", tmp_path / "still", "--no-pose")
    assert still.returncode == 0 and (tmp_path / "still" / "side_by_side.png").exists()


def test_bad_inputs_are_one_line(tmp_path, run_emoca, ict_capture):
    text = tmp_path / "notes.jsonl"
    text.write_text("hello\n")
    for args in (("export", text, "--format", "glb", "--out", tmp_path / "a.glb"),
                 ("export", tmp_path / "missing.jsonl", "--format", "glb", "--out", tmp_path / "b.glb"),
                 ("animate", ict_capture, "--target", tmp_path / "nobody.txt", "--out", tmp_path / "c"),
                 ("animate", text, "--target", "neutral", "--out", tmp_path / "d")):
        result = run_emoca(*args)
        assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "a.glb").exists() and not list((tmp_path / "d").glob("*.mp4"))
    with pytest.raises(InputError, match="line 1"):
        list(Capture(text).frames())
