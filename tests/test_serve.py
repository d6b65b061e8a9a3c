"""`emoca serve` in a real browser: headless Chromium (Debian's, driven by Playwright; `.ci/run` installs
it where missing) against the server on 127.0.0.1."""

import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emoca.datasets.helen import DEFAULT_ROOT as HELEN

PHOTO = HELEN.parent / "london" / "smiling" / "001.jpg"
VIDEO = HELEN.parent / "video" / "WolfgangLanger_Pexels.mp4"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Headless Chromium with software WebGL, and no calls out of this machine.
BROWSER_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The server on a free port, its temporary files under a folder of the test's own."""
    temporary = tmp_path_factory.mktemp("server_tmp")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "emoca.cli", "serve", "--port", str(port), "--max-upload-mb",
                                "1", "--upload-timeout", "3"], env={**os.environ, "TMPDIR": str(temporary)},
                               stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as answer:
                if json.load(answer)["ok"]:
                    break
        except OSError:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.5)
    yield url
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    assert not list(temporary.iterdir()), list(temporary.rglob("*"))[:5]  # the server's temporary folder went with it


@pytest.fixture(scope="module")
def playwright():
    """Playwright, once for the module (a second sync instance in the same thread is refused)."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def page(server, playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server)
    yield page
    browser.close()


def _upload(page, path: Path) -> str:
    page.set_input_files("#file", str(path))
    page.wait_for_function("document.body.dataset.state === 'busy'")
    page.wait_for_function("document.body.dataset.state !== 'busy'", timeout=120_000)
    return page.evaluate("document.body.dataset.state")


def _canvas(page) -> np.ndarray:
    return np.asarray(Image.open(BytesIO(page.locator("#viewer").screenshot())).convert("RGB")).astype(int)


def test_a_photo_becomes_a_head_the_sliders_pose(page, tmp_path, validate_gltf):
    assert _upload(page, PHOTO) == "ready", page.inner_text("#error")
    print(f"upload to viewer ready, in the browser: {page.evaluate('window.emoca.lastMs'):.0f} ms")
    before = _canvas(page)
    background = before[5, 5]
    assert (np.abs(before - background).sum(-1) > 30).mean() > 0.05  # a head covers part of the canvas
    values = [float(text) for text in page.locator("#bars .value").all_inner_texts()]
    assert len(values) == 10 and values == sorted(values, reverse=True) and values[0] > 0.2  # a smile
    assert "happy" in page.inner_text("#emotion")
    page.locator("input[name=jawOpen]").fill("1")
    after = _canvas(page)
    assert (np.abs(after - before).sum(-1) > 30).sum() > 200  # the mouth opened in the viewer
    link = page.locator("#downloads a", has_text="face.glb").get_attribute("href")
    glb = tmp_path / "face.glb"
    with urllib.request.urlopen(page.url.rstrip("/") + link) as answer:
        glb.write_bytes(answer.read())
    assert validate_gltf(glb)[0]["errors"] == 0


def _fetch(page, name: str) -> bytes:
    link = page.locator("#downloads a", has_text=name).first.get_attribute("href")
    with urllib.request.urlopen(page.url.rstrip("/") + link) as answer:
        return answer.read()


def _inner_face(canvas: np.ndarray, vertices: np.ndarray, points: np.ndarray, side: int = 32) -> np.ndarray:
    """The viewer's frontal head cut to the box of the 68 points' inner 51 (brows to mouth): the head's
    box on the canvas (pixels unlike the background) is the mesh's x-y box, so the points' share of that
    box places them. Grey, `side` px square."""
    head = np.abs(canvas - np.median(canvas[10:20, 10:-10].reshape(-1, 3), 0)).sum(-1) > 30
    head[:8], head[-8:], head[:, :8], head[:, -8:] = False, False, False, False  # (the canvas's rounded corners)
    rows, columns = np.flatnonzero(head.mean(1) > 0.01), np.flatnonzero(head.mean(0) > 0.01)
    low, high = vertices[:, :2].min(0), vertices[:, :2].max(0)
    points = points[:, :2]
    share_low, share_high = (points.min(0) - low) / (high - low), (points.max(0) - low) / (high - low)
    width, height = columns[-1] - columns[0], rows[-1] - rows[0]
    left, right = columns[0] + share_low[0] * width, columns[0] + share_high[0] * width
    top, bottom = rows[-1] - share_high[1] * height, rows[-1] - share_low[1] * height  # y up on the mesh
    crop = Image.fromarray(canvas.astype(np.uint8)).crop((int(left), int(top), int(right), int(bottom)))
    return np.asarray(crop.convert("L").resize((side, side)), float)


def test_the_viewer_shows_the_photo_s_texture_and_switches_to_the_plain_geometry(page, tmp_path):
    from emoca.facemodel.ict import ICTFaceModel

    assert _upload(page, PHOTO) == "ready", page.inner_text("#error")
    textured = _canvas(page)
    page.locator("#texture").uncheck()
    plain = _canvas(page)
    page.locator("#texture").check()
    assert (np.abs(textured - plain).sum(-1) > 30).mean() > 0.05  # the switch changes the head's look
    # The viewer's face against the photo's, both cut to the inner 51 points' box: the textured view
    # carries the photo's pattern (brows, eyes, nostrils, lips), the plain one only shading.
    params = json.loads(_fetch(page, "params.json"))
    vertices = np.array([line.split()[1:] for line in _fetch(page, "mesh.obj").decode().splitlines()
                         if line.startswith("v ")], float)
    inner = vertices[ICTFaceModel().landmark_vertices.numpy()[17:]]
    photo_points = np.asarray(params["faces"][0]["landmarks_68"])[17:]
    (left, top), (right, bottom) = photo_points.min(0), photo_points.max(0)
    reference = np.asarray(Image.open(PHOTO).convert("L").crop((int(left), int(top), int(right), int(bottom)))
                           .resize((32, 32)), float)
    correlation = {name: float(np.corrcoef(_inner_face(view, vertices, inner).ravel(), reference.ravel())[0, 1])
                   for name, view in (("textured", textured), ("plain", plain))}
    print(f"viewer face vs photo, correlation: {correlation}")
    assert correlation["textured"] > 0.4 and correlation["textured"] > correlation["plain"] + 0.15, correlation
    texture = tmp_path / "texture.png"
    texture.write_bytes(_fetch(page, "texture.png"))
    assert Image.open(texture).size == (1024, 512)


def test_a_bad_upload_is_one_line_and_the_page_goes_on(page, tmp_path):
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a photo")
    assert _upload(page, notes) == "error"
    message = page.inner_text("#error")
    assert "notes.jpg" in message and "not an image" in message and "\n" not in message.strip()
    assert _upload(page, PHOTO) == "ready"


def test_large_uploads_are_refused_before_decoding(server):
    body = b"--b\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"big.jpg\"\r\n\r\n"
    body += os.urandom(24 * 1024 * 1024) + b"\r\n--b--\r\n"
    request = urllib.request.Request(f"{server}/api/reconstruct", data=body, method="POST",
                                     headers={"Content-Type": "multipart/form-data; boundary=b"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 413 and "larger than the 1 MB limit" in json.load(refused.value)["error"]


def _video_jpegs(count: int) -> list[bytes]:
    """The sample video's first `count` frames as 640-px JPEGs (what the page sends)."""
    from emoca.io.video import VideoReader

    frames = []
    for frame in VideoReader(VIDEO):
        image = Image.fromarray(frame)
        image.thumbnail((640, 640))
        encoded = BytesIO()
        image.save(encoded, "JPEG", quality=80)
        frames.append(encoded.getvalue())
        if len(frames) == count:
            return frames
    return frames


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return answer.read()


def test_a_live_stream_answers_each_frame_in_order_keeps_a_take_and_goes_on_after_garbage(server, tmp_path,
                                                                                         validate_gltf):
    from websockets.sync.client import connect

    frames = _video_jpegs(12)
    with connect(server.replace("http", "ws") + "/api/live", max_size=2**22) as socket:
        hello = json.loads(socket.recv(timeout=60))
        assert hello["type"] == "hello" and len(hello["names"]) == 57 and hello["names"][-1] == "gazeDown"
        socket.send(json.dumps({"record": True}))
        answers = []
        for i, jpeg in enumerate(frames):
            socket.send(struct.pack("<d", 40.0 * i) + jpeg)
            answers.append(json.loads(socket.recv(timeout=60)))
        assert [answer["t"] for answer in answers] == [40.0 * i for i in range(12)]
        assert all(answer["found"] for answer in answers)
        weights = np.array([answer["weights"] for answer in answers])
        assert weights.shape == (12, 57) and (np.abs(np.diff(weights, axis=0)).max(1) > 0).all()  # a moving face
        assert answers[-1]["emotion"]["source"] == "geometry" and len(answers[-1]["rotation"]) == 3
        socket.send(struct.pack("<d", 480.0) + b"not a picture")
        error = json.loads(socket.recv(timeout=60))
        assert error["type"] == "error" and error["error"].startswith("live frame 13: not an image")
        socket.send(json.dumps({"dance": True}))
        assert "unknown command" in json.loads(socket.recv(timeout=60))["error"]
        socket.send(struct.pack("<d", 520.0) + frames[0])
        assert json.loads(socket.recv(timeout=60))["found"]  # the stream went on
        socket.send(json.dumps({"record": False}))
        take = json.loads(socket.recv(timeout=120))
    assert take["type"] == "take" and take["frames"] == 13 and take["seconds"] == 0.52
    rows = _get(server + take["files"]["take.csv"]).decode().splitlines()
    assert len(rows) == 14 and rows[0].startswith("Timecode,BlendShapeCount,EyeBlinkLeft")
    glb = tmp_path / "take.glb"
    glb.write_bytes(_get(server + take["files"]["take.glb"]))
    assert validate_gltf(glb)[0]["errors"] == 0


def test_text_that_is_not_json_closes_a_live_stream_and_a_third_stream_is_told_to_retry(server):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = server.replace("http", "ws") + "/api/live"
    with connect(url) as socket:
        socket.recv(timeout=60)
        socket.send("hello?")
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=60)
        assert closed.value.rcvd.code == 1003
    with connect(url) as first, connect(url) as second:
        first.recv(timeout=60), second.recv(timeout=60)
        with connect(url) as third:
            assert "busy" in json.loads(third.recv(timeout=60))["error"]
            with pytest.raises(ConnectionClosed) as closed:
                third.recv(timeout=60)
            assert closed.value.rcvd.code == 1013


def _raw(server: str, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
    """One request with `path` sent as it is (no client-side normalising of ".." or escapes)."""
    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    connection.request(method, path, body=body, headers=headers or {})
    answer = connection.getresponse()
    return answer.status, answer.read()


def test_hostile_requests_get_a_clear_4xx_and_the_server_goes_on(server):
    for path in ("/api/result/../../../../etc/passwd", "/..%2F..%2F..%2Fetc%2Fpasswd", "/%2e%2e/%2e%2e/etc/passwd",
                 "/api/result/..%2F..%2F/params.json", "/vendor/../../../pyproject.toml"):
        status, body = _raw(server, "GET", path)
        assert status == 404 and b"root:" not in body and b"[project]" not in body, (path, status)
    status, body = _raw(server, "POST", "/api/reconstruct", b'{"photo": 1}', {"Content-Type": "application/json"})
    assert status == 415 and b"multipart/form-data" in body
    status, body = _raw(server, "POST", "/api/reconstruct", b"--x\r\nno headers, no end",
                        {"Content-Type": "multipart/form-data; boundary=x"})
    assert status == 400
    status, _ = _raw(server, "POST", "/api/reconstruct", b"", {"Content-Type": "multipart/form-data; boundary=x",
                                                               "Content-Length": "12abc"})
    assert status == 400
    assert json.loads(_get(server + "/api/health"))["ok"]


def test_a_body_sent_a_byte_at_a_time_times_out_while_others_are_served(server):
    host, port = server.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)))
    slow.sendall(b"POST /api/reconstruct HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                 b"Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"photo\"; "
                 b"filename=\"slow.jpg\"\r\n\r\n")
    started = time.monotonic()
    served = []
    slow.settimeout(0.3)
    answer = b""
    while time.monotonic() - started < 20 and not answer:
        try:
            slow.sendall(b"x")
            answer = slow.recv(4096)
        except TimeoutError:
            pass
        except OSError:  # closed by the server after its answer
            break
        if len(served) < 3:
            begun = time.monotonic()
            assert json.loads(_get(server + "/api/health"))["ok"]
            served.append(time.monotonic() - begun)
    slow.settimeout(5)
    while answer and not answer.endswith(b"}"):  # the rest of the answer
        more = slow.recv(4096)
        if not more:
            break
        answer += more
    slow.close()
    assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 3 s" in answer, answer[:200]
    assert 2.5 < time.monotonic() - started < 10 and max(served) < 1.0, served


def test_eight_uploads_at_once_are_each_answered(server):
    photo = PHOTO.read_bytes()
    body = (b"--b\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"001.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\n" + photo + b"\r\n--b--\r\n")

    def upload(_: int) -> int:
        return _raw(server, "POST", "/api/reconstruct", body, {"Content-Type": "multipart/form-data; boundary=b"})[0]

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(upload, range(8)))
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 1, statuses
    assert json.loads(_get(server + "/api/health"))["ok"]


def _y4m(frames: int, out: Path) -> Path:
    """The sample video's first frames at 640 x 360 as Y4M, what Chromium's fake camera plays (looped)."""
    from itertools import islice

    from emoca.io.video import VideoReader, write_y4m

    write_y4m(out, islice(VideoReader(VIDEO), frames), 25, (640, 360))
    return out


def test_live_in_the_browser_from_a_fake_camera_moves_the_head_and_keeps_the_take(server, playwright, tmp_path,
                                                                                   validate_gltf):
    camera = _y4m(50, tmp_path / "camera.y4m")
    arguments = [*BROWSER_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--use-file-for-fake-video-capture={camera}"]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=arguments)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server)
    page.click("#live")
    page.wait_for_function("document.body.dataset.live === 'on' && window.emoca.live.answers >= 5",
                           timeout=120_000)
    first = _canvas(page)
    page.click("#record")
    page.wait_for_function("window.emoca.live.answers >= 25", timeout=120_000)
    page.click("#record")
    page.wait_for_function("window.emoca.live.take !== null", timeout=120_000)
    later = _canvas(page)
    live = page.evaluate("window.emoca.live")
    print(f"live in the browser: {live['fps']} answers/s, median latency {live['latencyMs']:.0f} ms")
    links = {link.inner_text(): link.get_attribute("href") for link in page.locator("#downloads a").all()}
    browser.close()
    assert (np.abs(later - first).sum(-1) > 30).sum() > 100  # the head moved
    assert live["changes"] >= 10 and len(live["weights"]) == 57  # the weights change from answer to answer
    assert set(links) == {"take.csv", "take.glb"}
    glb = tmp_path / "take.glb"
    glb.write_bytes(_get(server + links["take.glb"]))
    assert validate_gltf(glb)[0]["errors"] == 0
