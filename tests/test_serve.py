"""`emoca serve` in a real browser: headless Chromium (Debian's, driven by Playwright; `.ci/run` installs
it where missing) against the server on 127.0.0.1."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emoca.datasets.helen import DEFAULT_ROOT as HELEN

PHOTO = HELEN.parent / "london" / "smiling" / "001.jpg"
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
                                "1"], env={**os.environ, "TMPDIR": str(temporary)}, stderr=subprocess.PIPE, text=True)
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
def page(server):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
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
