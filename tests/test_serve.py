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
