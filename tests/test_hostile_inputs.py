"""A corpus of odd and hostile inputs, generated here (nothing binary committed), through every command.

Each case must give a one-line error naming the file (exit status 1 for the batch) or a correct result,
never a Python traceback, never a half-written output; the good photo in the same batch is processed.
"""

import json
import struct
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from emoca.io.images import load_image

LONDON = Path(__file__).resolve().parents[2] / "shared" / "data" / "london"
FACE = LONDON / "smiling" / "001.jpg"


def _png_declaring(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose header declares `width` x `height` pixels (a decompression bomb's header)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data  # noqa: E731
                                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def _video(path: Path, frames: list[np.ndarray], fps: int = 10) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2] if frames else (64, 64)
        stream.pix_fmt = "yuv420p"
        container.start_encoding()  # the header is written even with no frame (a track of 0 samples)
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _audio_only(path: Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = np.zeros((1, 16000), np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_corpus(root: Path) -> dict[str, str]:
    """Write the corpus under `root`; returns {file name: "result" | "error" | "either"} (either: a face
    may or may not be found, but the answer must be one of the two, in one line)."""
    face = np.asarray(Image.open(FACE).convert("RGB"))
    small = np.asarray(Image.fromarray(face).resize((320, 320)))
    expect: dict[str, str] = {}

    def image(name: str, array: np.ndarray | Image.Image, outcome: str, **save) -> None:
        picture = array if isinstance(array, Image.Image) else Image.fromarray(array)
        picture.save(root / name, **save)
        expect[name] = outcome

    def raw(name: str, data: bytes, outcome: str = "error") -> None:
        (root / name).write_bytes(data)
        expect[name] = outcome

    image("good.jpg", small, "result")
    jpeg = (root / "good.jpg").read_bytes()
    raw("empty.jpg", b"")
    raw("truncated.jpg", jpeg[: len(jpeg) // 3])
    image("whole.png", small, "result")
    raw("truncated.png", (root / "whole.png").read_bytes()[:2000])
    raw("text.jpg", b"hello, this is not a photo\n" * 20)
    raw("random.png", np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    image("one.png", np.zeros((1, 1, 3), np.uint8), "error")
    image("sixteen.png", np.zeros((16, 16, 3), np.uint8), "error")
    _png_declaring(root / "bomb.png", 50000, 50000)
    expect["bomb.png"] = "error"
    _png_declaring(root / "strip.png", 30000, 16)
    expect["strip.png"] = "error"
    image("cmyk.jpg", Image.fromarray(small).convert("CMYK"), "result")
    grey16 = (np.asarray(Image.fromarray(small).convert("L")).astype(np.uint16) * 257)
    image("grey16.png", Image.fromarray(grey16), "result")
    image("grey_alpha.png", Image.fromarray(small).convert("LA"), "result")
    palette = Image.fromarray(small).convert("P")
    palette.info["transparency"] = 0
    image("palette_transparent.png", palette, "result")
    for orientation in range(1, 9):  # stored so that the EXIF orientation puts the face upright
        stored = Image.fromarray(small)
        inverse = {2: [Image.Transpose.FLIP_LEFT_RIGHT], 3: [Image.Transpose.ROTATE_180],
                   4: [Image.Transpose.FLIP_TOP_BOTTOM], 5: [Image.Transpose.TRANSPOSE],
                   6: [Image.Transpose.ROTATE_90], 7: [Image.Transpose.TRANSVERSE],
                   8: [Image.Transpose.ROTATE_270]}.get(orientation, [])
        for step in inverse:
            stored = stored.transpose(step)
        exif = Image.Exif()
        exif[0x0112] = orientation
        image(f"exif_{orientation}.jpg", stored, "result", exif=exif)
    bad_exif = jpeg[:2] + b"\xff\xe1\x00\x10Exif\x00\x00MM\x00*\xff\xff\xff\xff" + jpeg[2:]
    raw("corrupt_exif.jpg", bad_exif, "result")
    image("photo.webp", small, "result")
    image("photo.bmp", small, "result")
    frames = [Image.fromarray(small), Image.fromarray(255 - small)]
    frames[0].save(root / "pages.tiff", save_all=True, append_images=frames[1:])
    expect["pages.tiff"] = "result"
    frames[0].save(root / "animated.gif", save_all=True, append_images=frames[1:], duration=100)
    expect["animated.gif"] = "result"
    raw("photo.heic", jpeg)  # a JPEG under a suffix we do not read: skipped in a folder, with its reason
    image("name with spaces.jpg", small, "result")
    image("new\nline.jpg", small, "result")
    image("ünïcödé 😀.jpg", small, "result")
    (root / "dangling.jpg").symlink_to(root / "gone.jpg")
    (root / "loop.jpg").symlink_to(root / "loop.jpg")
    expect["dangling.jpg"] = expect["loop.jpg"] = "error"
    y, x = np.mgrid[:240, :320]
    image("no_face.png", np.stack([x % 256, y, np.full_like(x, 90)], -1).astype(np.uint8), "error")
    crowd = np.concatenate([np.asarray(Image.fromarray(face).resize((160, 160)))] * 5, 1)
    image("five_faces.jpg", crowd, "result")
    canvas = np.full((480, 480, 3), 128, np.uint8)
    canvas[200:224, 200:224] = np.asarray(Image.fromarray(face).resize((24, 24)))
    image("tiny_face.jpg", canvas, "either")
    image("upside_down.jpg", small[::-1], "either")
    image("half_face.jpg", small[:, :160], "either")
    floats = np.asarray(Image.fromarray(small).convert("L"), np.float32) / 255
    image("float.tiff", Image.fromarray(floats, mode="F"), "result")
    return expect


def make_videos(root: Path) -> dict[str, str]:
    """Hostile videos for `reconstruct`; {name: expected outcome} as `make_corpus`."""
    face = np.asarray(Image.open(FACE).convert("RGB").resize((128, 128)))
    _video(root / "zero_frames.mp4", [])
    _video(root / "tiny.mp4", [np.zeros((8, 8, 3), np.uint8)] * 3)
    _video(root / "no_face.mp4", [np.full((64, 64, 3), 90, np.uint8)] * 4)
    _video(root / "clip.mp4", [face] * 6)
    data = (root / "clip.mp4").read_bytes()
    (root / "truncated_tail.mp4").write_bytes(data[: int(len(data) * 0.8)])
    middle = bytearray(data)
    middle[len(data) // 2: len(data) // 2 + 200] = bytes(200)
    (root / "corrupt_middle.mp4").write_bytes(bytes(middle))
    _audio_only(root / "audio_only.mp4")
    (root / "photo.mp4").write_bytes(FACE.read_bytes())
    return {"zero_frames.mp4": "error", "tiny.mp4": "error", "no_face.mp4": "error", "clip.mp4": "result",
            "truncated_tail.mp4": "either", "corrupt_middle.mp4": "either", "audio_only.mp4": "error",
            "photo.mp4": "either"}  # FFmpeg reads a JPEG as a one-frame video: a result is right too


def _check_run(result, expect: dict[str, str], command: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 1, (command, result.returncode, result.stderr[-1000:])
    records = [json.loads(line) for line in result.stdout.splitlines()]  # stdout is pure JSON lines
    by_name: dict[str, list[dict]] = {}
    for record in records:
        by_name.setdefault(Path(record["image"]).name, []).append(record)
    for name, outcome in expect.items():
        got = by_name.get(name)
        assert got, f"{command}: nothing reported for {name!r}"
        failed = any("error" in record for record in got)
        if outcome != "either":
            assert failed == (outcome == "error"), (command, name, got)
        for record in got:
            assert "\n" not in record.get("error", "") and "unexpectedly" not in record.get("error", "")
    for line in result.stderr.splitlines():  # every error line names its file
        if line.startswith("emoca: error:"):
            assert any(name in line or repr(name)[1:-1] in line for name in expect) or "x.jpg" in line, line


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("corpus")
    return root, make_corpus(root)


def test_the_corpus_has_at_least_forty_cases(corpus, tmp_path):
    assert len(corpus[1]) + len(make_videos(tmp_path)) + 1 >= 40  # + the folder named x.jpg


def test_image_decoding_of_the_corpus(corpus):
    root, expect = corpus
    upright = load_image(root / "exif_1.jpg")
    for orientation in range(2, 9):
        image = load_image(root / f"exif_{orientation}.jpg")
        assert image.shape == upright.shape and np.abs(image.astype(int) - upright).mean() < 6, orientation
    floats = load_image(root / "float.tiff")
    assert 60 < floats.mean() < 200  # [0, 1] floats are not read as a black 0-255 image


@pytest.mark.parametrize("command", ["landmarks", "emotion", "reconstruct"])
def test_every_command_survives_the_corpus(corpus, command, tmp_path, run_emoca):
    root, expect = corpus
    (tmp_path / "x.jpg").mkdir()
    extra = ["--out", tmp_path / "out"] if command != "emotion" else []
    if command == "reconstruct":
        extra += ["--method", "regress"]
    result = run_emoca(command, root, tmp_path / "x.jpg", "--json", *extra)
    _check_run(result, expect, command)
    assert "x.jpg" in result.stderr and "photo.heic" in result.stderr
    if command == "reconstruct":
        out = tmp_path / "out"
        assert not [p for p in out.rglob("*") if ".tmp" in p.name]  # nothing half-written
        for params in out.rglob("params.json"):
            json.loads(params.read_text())
        assert len(json.loads((out / "five_faces" / "params.json").read_text())["faces"]) == 5


def test_hostile_videos_through_reconstruct(tmp_path, run_emoca):
    root = tmp_path / "videos"
    root.mkdir()
    expect = make_videos(root)
    out = tmp_path / "out"
    result = run_emoca("reconstruct", root, "--json", "--out", out, "--method", "regress")
    _check_run(result, expect, "reconstruct")
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    for name in ("zero_frames", "no_face", "tiny", "audio_only"):  # failed videos leave no outputs
        assert not (out / name / "overlay.mp4").exists() and not (out / name / "params.jsonl").exists()
    lines = (out / "clip" / "params.jsonl").read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(line)["faces"] for line in lines)


def test_a_killed_batch_leaves_complete_outputs_and_the_next_run_resumes(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    photos = tmp_path / "photos"
    photos.mkdir()
    for i, source in enumerate(sorted((LONDON / "smiling").glob("*.jpg"))[:6]):
        Image.open(source).resize((320, 320)).save(photos / f"{i}.jpg")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "emoca.cli", "reconstruct", str(photos), "--out", str(out), "--method", "regress",
               "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 300
    while not list(out.rglob("params.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished_before = list(out.rglob("params.json"))
    assert 1 <= len(finished_before) < 6
    for params in finished_before:
        json.loads(params.read_text())  # complete, whatever the moment of the kill
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-1000:]
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert sum("skipped" in r for r in records) == len(finished_before)
    assert sum("faces" in r for r in records) == 6 - len(finished_before)
    assert len(list(out.rglob("params.json"))) == 6
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


def test_an_output_folder_that_is_a_file_fails_that_photo_only(tmp_path, run_emoca):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a", "b"):
        Image.open(FACE).resize((320, 320)).save(photos / f"{name}.jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a").write_text("a file where the folder of a.jpg would go")
    result = run_emoca("reconstruct", photos, "--out", out, "--method", "regress", "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    records = {Path(r["image"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert "cannot write" in records["a.jpg"]["error"] and records["b.jpg"]["faces"] == 1
    (out / "b.png").mkdir()  # the overlay's name is taken by a folder
    blocked = run_emoca("landmarks", photos / "b.jpg", "--out", out, "--json")
    assert blocked.returncode == 1 and "Traceback" not in blocked.stderr and "cannot write" in blocked.stderr


def test_hostile_flame_files_through_the_command_line(tmp_path, run_emoca):
    import pickle

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            import os

            return os.system, (f"touch {marker}",)

    cases = {"evil.pkl": pickle.dumps({"v_template": Evil()}, protocol=2),
             "truncated.pkl": pickle.dumps({"v_template": np.zeros((5, 3))})[:20],
             "list.pkl": pickle.dumps([1, 2, 3]),
             "photo.pkl": FACE.read_bytes()}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        result = run_emoca("reconstruct", FACE, "--out", tmp_path / "out", "--model", "flame", "--flame",
                           tmp_path / name)
        assert result.returncode == 1 and "Traceback" not in result.stderr, (name, result.stderr[-500:])
        errors = [line for line in result.stderr.splitlines() if line.startswith("emoca: error:")]
        assert len(errors) == 1 and name in errors[0], (name, result.stderr[-500:])
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_a_video_killed_mid_run_leaves_nothing_under_its_names_and_is_redone(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    face = np.asarray(Image.open(FACE).convert("RGB").resize((160, 160)))
    _video(tmp_path / "clip.mp4", [np.roll(face, shift, 1) for shift in range(-60, 60)])
    out = tmp_path / "out"
    command = [sys.executable, "-m", "emoca.cli", "reconstruct", str(tmp_path / "clip.mp4"), "--out", str(out),
               "--method", "regress"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list((out / "clip").glob(".overlay.*")) and time.monotonic() < deadline:  # frames being written
        time.sleep(0.05)
    time.sleep(1.0)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "clip" / "params.jsonl").exists() and not (out / "clip" / "overlay.mp4").exists()
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-1000:]
    assert len((out / "clip" / "params.jsonl").read_text().splitlines()) == 120
    assert not list((out / "clip").glob(".*.tmp*"))
