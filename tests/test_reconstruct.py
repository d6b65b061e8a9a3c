"""`emoca reconstruct` on photos: the output contract, skipping finished work, bad inputs."""

import json

import numpy as np
from PIL import Image

from emoca.datasets.helen import DEFAULT_ROOT as HELEN
from emoca.pipeline.photo import EmocaConfig

PHOTO = HELEN.parent / "london" / "smiling" / "001.jpg"


def test_outputs_follow_the_contract_and_finished_photos_are_skipped(tmp_path, run_emoca):
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.open(PHOTO).save(inputs / "smile.jpg")
    (inputs / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    result = run_emoca("reconstruct", inputs, "--out", tmp_path / "out", "--json")
    assert result.returncode == 1  # the broken file
    folder = tmp_path / "out" / "smile"
    assert {p.name for p in folder.iterdir()} == {"params.json", "mesh.obj", "mesh.mtl", "texture.png", "render.png",
                                                  "textured.png", "overlay.png"}
    params = json.loads((folder / "params.json").read_text())
    face = params["faces"][0]
    assert params["schema_version"] == 7 and face["model"] == "ict"
    assert face["texture"]["file"] == "texture.png" and 0.7 < face["texture"]["seen"] <= 1  # a frontal photo
    assert face["texture"]["mostly_hidden"] is False
    assert (folder / "mesh.obj").read_text().startswith("# emoca mesh") and "mtllib mesh.mtl" in (
        folder / "mesh.obj").read_text()[:200]
    assert "map_Kd texture.png" in (folder / "mesh.mtl").read_text()
    assert len(face["eyes"]["gaze"]) == 2 and "yaw" in face["eyes"]["convention"]  # from the iris points
    emotion = face["emotion"]  # from the expression alone (the regressor's geometry head, which emoca shares)
    assert emotion["source"] == "geometry" and emotion["va_supervised"] is False
    assert abs(sum(emotion["probabilities"].values()) - 1) < 1e-3 and emotion["expression"] in emotion["probabilities"]
    provenance = params["provenance"]  # the default method for ICT: emoca (`emoca.methods.default_method`)
    assert provenance["method"] == "emoca" and provenance["fit_config"]["emotion_steps"] > 0
    assert provenance["fit_config"]["hold_identity"] is True
    assert provenance["fit_config"]["render_size"] == EmocaConfig().appearance_render_size  # mapped onto the fit
    assert {"ict_facekit.npz", "ict_expression_correctives.npz", "landmarks68.npz", "regressor_expression.safetensors",
            "geometry_emotion_regress.safetensors"} <= set(provenance["files"])
    assert face["refinement"]["kept"] in ("refined", "start")  # emoca says what it kept
    assert all(len(digest) == 12 for digest in provenance["files"].values())
    timings = face["timings_ms"]
    assert set(timings) == {"detect", "predict_per_face", "decode_per_face", "total", "texture", "write_outputs"}
    assert timings["total"] >= timings["detect"] + timings["predict_per_face"] + timings["decode_per_face"] - 1
    assert len(face["identity"]) == 100 and len(face["mesh_identity"]) == 100 and len(face["expression"]) == 53
    _assert_mesh_rebuilds_from_params(folder / "mesh.obj", face)
    assert all(0 <= w <= 1 for w in face["expression"].values())
    assert face["expression"]["mouthSmile_L"] + face["expression"]["mouthSmile_R"] > 0.2
    assert np.asarray(face["light"]["coefficients"]).shape == (9, 3) and len(face["landmarks_68"]) == 68
    photo = np.asarray(Image.open(PHOTO))
    assert np.asarray(Image.open(folder / "overlay.png")).shape == (photo.shape[0], 4 * photo.shape[1], 3)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert any(line.get("faces") == 1 for line in lines) and any("error" in line for line in lines)
    before = (folder / "params.json").stat().st_mtime_ns
    again = run_emoca("reconstruct", inputs / "smile.jpg", "--out", tmp_path / "out")
    assert again.returncode == 0 and "skipped" in again.stderr and again.stdout == ""
    assert (folder / "params.json").stat().st_mtime_ns == before


def _assert_mesh_rebuilds_from_params(obj, face):
    """ICT's own blendshapes at `mesh_identity` and `expression`, the eyes turned to `eyes.gaze`, give the
    vertices of `mesh.obj`."""
    import torch

    from emoca.decode.gaze import turn_eyes
    from emoca.facemodel.ict import ICTFaceModel

    model = ICTFaceModel()
    identity = torch.tensor([face["mesh_identity"]], dtype=torch.float32)
    expression = torch.tensor([[face["expression"][name] for name in model.expression_names]], dtype=torch.float32)
    rebuilt = model.shape(identity, expression)
    rebuilt = turn_eyes(model, rebuilt, torch.zeros(1, 3), torch.tensor([face["eyes"]["gaze"]]))[0].numpy()
    written = np.array([line.split()[1:] for line in obj.read_text().splitlines() if line.startswith("v ")], float)
    assert np.abs(rebuilt - written).max() < 1e-3  # cm; params are rounded to 5 decimals


def test_unwritable_output_fails_before_any_work(tmp_path, run_emoca):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should go")
    result = run_emoca("reconstruct", PHOTO, "--out", blocker / "out")
    assert result.returncode == 1 and "not writable" in result.stderr


def _clip(path, count, blank=()):
    """The sample video's first `count` frames, those in `blank` painted black (no face)."""
    from emoca.io.video import VideoReader, VideoWriter

    reader = VideoReader(HELEN.parent / "video" / "WolfgangLanger_Pexels.mp4")
    with VideoWriter(path, reader.fps, (reader.width, reader.height)) as writer:
        for index, frame in enumerate(reader):
            if index == count:
                break
            writer.write(np.zeros_like(frame) if index in blank else frame)


def test_video_writes_a_line_per_frame_with_one_identity(tmp_path, run_emoca):
    _clip(tmp_path / "clip.mkv", 12)
    result = run_emoca("reconstruct", tmp_path / "clip.mkv", "--out", tmp_path / "out", "--json")
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "out" / "clip"
    assert {p.name for p in folder.iterdir()} == {"params.jsonl", "overlay.mp4", "mesh.obj", "mesh.mtl", "texture.png"}
    lines = [json.loads(line) for line in (folder / "params.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(12))
    identities = np.array([line["faces"][0]["identity"] for line in lines])
    np.testing.assert_allclose(identities, identities[:1].repeat(12, 0), atol=1e-4)  # one person, one identity
    assert all(line["faces"][0]["emotion"]["source"] == "geometry" for line in lines)  # per frame, smoothed
    from emoca.io.video import VideoReader

    overlay = VideoReader(folder / "overlay.mp4")
    assert len(list(overlay)) == 12 and overlay.width == 2 * 640


def test_truncated_video_keeps_the_decoded_frames_and_fails(tmp_path, run_emoca):
    _clip(tmp_path / "full.mkv", 24)
    data = (tmp_path / "full.mkv").read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) // 2])
    result = run_emoca("reconstruct", tmp_path / "cut.mkv", "--out", tmp_path / "out")
    lines = (tmp_path / "out" / "cut" / "params.jsonl").read_text().splitlines()
    assert 0 < len(lines) < 24
    assert result.returncode == 1 and "cut.mkv" in result.stderr and "decoded frames" in result.stderr


def test_video_frames_without_a_face_are_empty_and_the_face_is_found_again(tmp_path, run_emoca):
    _clip(tmp_path / "gap.mkv", 14, blank={10, 11})
    result = run_emoca("reconstruct", tmp_path / "gap.mkv", "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (tmp_path / "out" / "gap" / "params.jsonl").read_text().splitlines()]
    assert [len(line["faces"]) for line in lines] == [1] * 10 + [0, 0] + [1, 1]
    after, before = lines[12]["faces"][0], lines[9]["faces"][0]
    np.testing.assert_allclose(after["identity"], before["identity"], atol=1e-4)  # the person's identity is kept
    eye = np.linalg.norm(np.subtract(before["landmarks_68"][36], before["landmarks_68"][45]))
    moved = np.linalg.norm(np.subtract(after["landmarks_68"], before["landmarks_68"]), axis=1).mean()
    assert moved < 0.2 * eye  # a full fit where the face came back, close to where it was


def test_a_device_that_is_not_here_is_a_one_line_error_before_any_work(tmp_path, run_emoca):
    import torch

    for device in ["tpu", "nonsense!"] + ([] if torch.cuda.is_available() else ["cuda"]):
        result = run_emoca("reconstruct", PHOTO, "--out", tmp_path / "out", "--device", device)
        assert result.returncode == 1 and "--device" in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "out").exists()


def test_missing_or_corrupt_regressor_weights_name_the_file_and_how_to_retrain(tmp_path, run_emoca):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not weights")
    for weights in (tmp_path / "missing.safetensors", broken):
        result = run_emoca("reconstruct", PHOTO, "--out", tmp_path / "out", "--method", "regress",
                           "--expression-encoder", weights)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert weights.name in result.stderr and "python -m emoca.train.regressor" in result.stderr
        assert not (tmp_path / "out").exists()


def test_finished_outputs_are_recognised_by_their_input_and_broken_ones_redone(tmp_path):
    from emoca.batch.reconstruct_jobs import finished

    photo, other = tmp_path / "a" / "001.jpg", tmp_path / "b" / "001.jpg"
    done = tmp_path / "out" / "001" / "params.json"
    assert finished(done, photo) is False  # nothing yet
    done.parent.mkdir(parents=True)
    done.write_text(json.dumps({"image": str(photo), "faces": []}))
    assert finished(done, photo) is True
    assert finished(done, other) is None  # another input's result: not to be skipped, nor overwritten
    for broken in ('{"image": "a/001.jpg", "fac', "[]", '{"faces": []}', ""):
        done.write_text(broken)
        assert finished(done, photo) is False
    lines = tmp_path / "out" / "clip" / "params.jsonl"
    lines.parent.mkdir()
    lines.write_text('{"frame": 0, "faces": []}\n{"frame": 1, "fa')
    assert finished(lines, photo) is False


def test_same_named_photos_from_two_runs_keep_apart_and_folders_are_mirrored(tmp_path, run_emoca):
    for folder, source in (("first", PHOTO), ("second", PHOTO.parent.parent / "neutral" / "001.jpg")):
        (tmp_path / folder / "sub").mkdir(parents=True)
        Image.open(source).save(tmp_path / folder / "sub" / "001.jpg")
    out = tmp_path / "out"
    first = run_emoca("reconstruct", tmp_path / "first", "--out", out, "--method", "regress", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["out"] == str(out / "sub" / "001")
    (out / "sub" / "001" / "params.json").write_text("{not json")  # a broken result is redone, not skipped
    again = run_emoca("reconstruct", tmp_path / "first", "--out", out, "--method", "regress", "--json")
    assert json.loads(again.stdout)["out"] == str(out / "sub" / "001") and "faces" in json.loads(again.stdout)
    second = run_emoca("reconstruct", tmp_path / "second", "--out", out, "--method", "regress", "--json")
    assert json.loads(second.stdout)["out"] == str(out / "sub" / "001_2")  # another photo of the same name
    skipped = run_emoca("reconstruct", tmp_path / "second", "--out", out, "--method", "regress", "--json")
    assert skipped.returncode == 0 and json.loads(skipped.stdout)["skipped"] and "skipped" in skipped.stderr
    assert "emoca: 0 done, 1 skipped, 0 failed in" in skipped.stderr and "1 done, 0 skipped" in second.stderr


def test_regress_plus_identity_keeps_the_regressors_expression_and_fits_the_identity(tmp_path, run_emoca):
    faces = {}
    for method in ("regress", "regress+identity"):
        result = run_emoca("reconstruct", PHOTO, "--out", tmp_path / method, "--method", method)
        assert result.returncode == 0, result.stderr
        params = json.loads((tmp_path / method / PHOTO.stem / "params.json").read_text())
        assert params["provenance"]["method"] == method
        faces[method] = params["faces"][0]
    assert params["provenance"]["fit_config"]["hold_expression"] is True  # the fit that ran, recorded
    regressed, refined = faces["regress"], faces["regress+identity"]
    held = [name for name in regressed["expression"] if not name.startswith("eyeLook")]  # gaze: from each mesh
    np.testing.assert_allclose([refined["expression"][name] for name in held],
                               [regressed["expression"][name] for name in held], atol=1e-5)
    assert not np.allclose(refined["identity"], regressed["identity"], atol=1e-3)
    assert refined["emotion"]["source"] == "geometry"


def test_a_face_rendered_in_its_window_matches_the_whole_image_render():
    import torch

    from emoca.decode.image_space import screen_in_image
    from emoca.io.images import load_image
    from emoca.output.writer import WINDOW_STEP, OutputWriter, _window
    from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
    from emoca.render.renderer import Renderer, RendererConfig

    reconstructor = Reconstructor(ReconstructorConfig(method="regress"))
    image = load_image(PHOTO)
    face = reconstructor.reconstruct(image)[0]
    layers = OutputWriter(reconstructor)._render(image, [face], colour=True)
    whole = Renderer(reconstructor.model.triangles, config=RendererConfig(image_size=image.shape[:2]))
    screen = screen_in_image(face.decoded.vertices, face.params.scale, face.params.offset, reconstructor.crop.size,
                             face.to_input[None])
    with torch.no_grad():
        expected = whole(face.decoded.vertices, screen, face.decoded.albedo, face.params.light).image
    expected = (expected[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    assert (layers.alpha > 0).mean() > 0.05 and np.abs(layers.colour.astype(int) - expected).max() <= 1
    over = layers.over(layers.colour, image)  # the render over the photo: equal where the face is opaque
    opaque, bare = layers.alpha[..., 0] == 1, layers.alpha[..., 0] == 0
    assert np.abs(over[opaque].astype(int) - expected[opaque]).max() <= 1 and (over[bare] == image[bare]).all()
    edge = (layers.alpha[..., 0] > 0.2) & (layers.alpha[..., 0] < 0.8)  # antialiased: between the two
    # premultiplied "over", clipped as an 8-bit image is (antialiasing can leave an edge pixel's colour above
    # its coverage: the 2026-12-03 stage 2 puts one such pixel on this photo, 114 at alpha 0.25 over 220)
    composed = np.clip(expected[edge] + (1 - layers.alpha[edge]) * image[edge], 0, 255)
    assert edge.any() and np.abs(over[edge] - composed).max() <= 1.5
    assert _window(np.array([[-50.0, -50.0], [-10.0, -10.0]]), 100, 100) is None  # off the image
    top, left, rows, columns = _window(np.array([[90.0, 95.0], [99.5, 99.0]]), 100, 300)
    assert (rows, columns) == (64, WINDOW_STEP) and top + rows <= 100 and left <= 90 and left + columns >= 100
