"""`emoca serve` live and under load: the page's live mode from a fake camera, 8 uploads at once, and a
long simulated stream's memory.

1. Live in headless Chromium (software WebGL, on the same cores as the server): the fake camera plays the
   sample video's first 3 s (640 x 360, looped); after 10 s of warm-up, `--seconds` of live mode: answers
   per second (answers over the window / its length) and the median latency from a frame's capture to
   its answer, both as the page measures them (`window.emoca.live`, sampled each second).
2. 8 clients upload London smiling/001 at once (threads, no browser): each status, the p50/p95 latency
   of the answered ones, the server's resident memory before and after (/proc).
3. A simulated stream: a Python client sends the sample video's frames (looped) over the WebSocket as
   fast as the server answers (two unanswered at most, as the page) with capture times 1/15 s apart,
   for `--stream-minutes` of stream time, recording a 60-s take every 5 minutes; the server's resident
   memory after the first 1,000 frames and at the end.

Run: `.venv/bin/python benchmarks/bench_live.py [--seconds 30] [--stream-minutes 30] [--parts
live,uploads,stream]` (part of `make bench`; needs chromium; live and uploads alone: their figures are
the CPU's).
Targets (issue "Live"): >= 15 answers/s and median latency <= 150 ms in the browser; 8 uploads all
answered, memory growth <= 300 MB; a 30-minute stream's memory growth <= 50 MB.
"""

import argparse
import http.client
import json
import shutil
import statistics
import struct
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from itertools import islice
from pathlib import Path

import numpy as np
from bench_serve import ARGS, PHOTO, resident_mb, serving
from figures import record
from PIL import Image

from emoca.io.video import VideoReader, write_y4m

VIDEO = PHOTO.parents[2] / "video" / "WolfgangLanger_Pexels.mp4"
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def browser_live(url: str, seconds: float) -> dict:
    """The page's live figures from a fake camera playing the sample video."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        camera = Path(folder) / "camera.y4m"
        write_y4m(camera, islice(VideoReader(VIDEO), 75), 25, (640, 360))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=[
                *ARGS, *FAKE_CAMERA, f"--use-file-for-fake-video-capture={camera}"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.click("#live")
            page.wait_for_function("document.body.dataset.live === 'on'", timeout=120_000)
            time.sleep(10)
            start, began, latencies, server = page.evaluate("window.emoca.live.answers"), time.monotonic(), [], []
            while time.monotonic() - began < seconds:
                time.sleep(1)
                latencies.append(page.evaluate("window.emoca.live.latencyMs"))
                server.append(page.evaluate("window.emoca.live.serverMs"))
            answers = page.evaluate("window.emoca.live.answers") - start
            elapsed = time.monotonic() - began
            software = page.evaluate("document.body.dataset.webgl")
            browser.close()
    return {"answers_per_s": answers / elapsed, "latency_ms": statistics.median(latencies),
            "server_ms": statistics.median(server), "webgl": software}


def _multipart(photo: bytes) -> bytes:
    return (b'--b\r\nContent-Disposition: form-data; name="photo"; filename="001.jpg"\r\nContent-Type: image/jpeg'
            b"\r\n\r\n" + photo + b"\r\n--b--\r\n")


def concurrent_uploads(url: str, pid: int, clients: int = 8) -> dict:
    """`clients` uploads at once: statuses, latency of the answered ones, memory before/after."""
    host, port = url.removeprefix("http://").split(":")
    body = _multipart(PHOTO.read_bytes())

    def upload(_: int) -> tuple[int, float]:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(host, int(port), timeout=600)
        connection.request("POST", "/api/reconstruct", body=body,
                           headers={"Content-Type": "multipart/form-data; boundary=b"})
        status = connection.getresponse().status
        return status, time.perf_counter() - started

    upload(0)  # warm-up
    before = resident_mb(pid)
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(upload, range(clients)))
    seconds = sorted(t for status, t in results if status == 200)
    return {"statuses": sorted(status for status, _ in results), "p50_s": float(np.percentile(seconds, 50)),
            "p95_s": float(np.percentile(seconds, 95)), "memory_growth_mb": resident_mb(pid) - before}


def _jpegs(count: int) -> list[bytes]:
    out = []
    for frame in islice(VideoReader(VIDEO), count):
        encoded = BytesIO()
        Image.fromarray(frame).save(encoded, "JPEG", quality=80)
        out.append(encoded.getvalue())
    return out


def long_stream(url: str, pid: int, minutes: float, fps: float = 15.0) -> dict:
    """A stream of `minutes` at `fps` of capture time, sent as fast as answered: memory at 1,000 frames
    (a quarter of a shorter stream) and at the end, frames, the wall time."""
    from websockets.sync.client import connect

    frames, total = _jpegs(75), int(minutes * 60 * fps)
    memory_early, started = None, time.monotonic()
    with connect(url.replace("http", "ws") + "/api/live", max_size=2**22) as socket:
        socket.recv(timeout=120)
        sent = answered = 0
        while answered < total:
            while sent < total and sent - answered < 2:
                t = sent / fps
                if t % 300 < 1 / fps:
                    socket.send(json.dumps({"record": True}))
                if (t - 60) % 300 < 1 / fps and t >= 60:
                    socket.send(json.dumps({"record": False}))
                socket.send(struct.pack("<d", 1000 * t) + frames[sent % len(frames)])
                sent += 1
            message = json.loads(socket.recv(timeout=120))
            answered += message["type"] in ("frame", "error") and "t" in message
            if answered == min(1000, total // 4) and memory_early is None:
                memory_early = resident_mb(pid)
    return {"frames": total, "wall_s": time.monotonic() - started, "memory_at_1000_mb": memory_early,
            "memory_growth_mb": resident_mb(pid) - (memory_early or 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--stream-minutes", type=float, default=30.0)
    parser.add_argument("--parts", default="live,uploads,stream", help="comma-separated: live, uploads, stream "
                        "(the stream's figure is memory, not time: it may run beside other work)")
    args = parser.parse_args()
    parts = args.parts.split(",")
    if shutil.which("chromium") is None and "live" in parts:
        print("  skipped: Chromium is not installed (Debian: apt-get install chromium)")
        return
    rows = {}
    with serving() as (server, url):
        if "live" in parts:
            live = browser_live(url, args.seconds)
            print(f"live in Chromium ({live['webgl']} WebGL), fake camera, {args.seconds:g} s: "
                  f"{live['answers_per_s']:.1f} answers/s [target >= 15], median latency {live['latency_ms']:.0f} "
                  f"ms [target <= 150]; the server's own {live['server_ms']:.0f} ms a frame")
            rows["live"] = {"answers_per_s": round(live["answers_per_s"], 1), "latency_ms": round(live["latency_ms"]),
                            "server_ms": round(live["server_ms"]), "seconds": args.seconds, "webgl": live["webgl"]}
        if "uploads" in parts:
            uploads = concurrent_uploads(url, server.pid)
            print(f"8 uploads at once: statuses {uploads['statuses']}, p50 {uploads['p50_s']:.1f} s, p95 "
                  f"{uploads['p95_s']:.1f} s, server memory {uploads['memory_growth_mb']:+.0f} MB [target <= 300]")
            rows["uploads_8"] = {**uploads, "p50_s": round(uploads["p50_s"], 2), "p95_s": round(uploads["p95_s"], 2),
                                 "memory_growth_mb": round(uploads["memory_growth_mb"], 1)}
        if "stream" in parts:
            stream = long_stream(url, server.pid, args.stream_minutes)
            print(f"simulated stream: {stream['frames']} frames ({args.stream_minutes:g} min at 15 frames/s of "
                  f"capture time) in {stream['wall_s'] / 60:.1f} min; server memory {stream['memory_at_1000_mb']:.0f} "
                  f"MB at frame 1,000, {stream['memory_growth_mb']:+.1f} MB by the end [target <= 50]")
            rows["stream"] = {"minutes": args.stream_minutes, "frames": stream["frames"],
                              "memory_growth_mb": round(stream["memory_growth_mb"], 1)}
    record("live", rows)


if __name__ == "__main__":
    main()
