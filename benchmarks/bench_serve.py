"""`emoca serve` in headless Chromium: photo to 3D on the page against `emoca reconstruct`'s own time, and
the server's memory over ten uploads.

1. `emoca reconstruct --method regress` of London smiling/001 in this process, three times (after one
   warm-up): its own time for the photo is params.json's `total` + `write_outputs` (reading, detection,
   regression, decoding and writing its files), the median.
2. The server (`emoca serve`, a separate process) and the page in Debian's Chromium (Playwright): the
   same photo uploaded 11 times; the page's `window.emoca.lastMs` (upload start to the viewer's first
   frame of the new head, measured in the browser) after the first (warm-up), the median; the server's
   resident memory (/proc) after upload 1 and upload 11.

Run: `.venv/bin/python benchmarks/bench_serve.py` (part of `make bench`; needs chromium; alone).
Targets (issue "emoca serve"): page <= 1.5x reconstruct's own time; memory growth over ten uploads <= 100 MB.
The figures go to out/report/figures.json ("serve").
"""

import argparse
import json
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from figures import record

from emoca.cli import main as emoca

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "london" / "smiling" / "001.jpg"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
        "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]


def own_time() -> float:
    """Median seconds `emoca reconstruct --method regress` spends on the photo (after a warm-up)."""
    times = []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(4):
            out = Path(folder) / str(run)
            emoca(["reconstruct", str(PHOTO), "--out", str(out), "--method", "regress"])
            timings = json.loads((out / PHOTO.stem / "params.json").read_text())["faces"][0]["timings_ms"]
            times.append((timings["total"] + timings["write_outputs"]) / 1000)
    return statistics.median(times[1:])


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def serving(*options: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """`emoca serve` on a free port (with `options`), ready: (its process, its URL); stopped after."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "emoca.cli", "serve", "--port", str(port), *options],
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(360):
            try:
                urllib.request.urlopen(f"{url}/api/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        yield server, url
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    from playwright.sync_api import sync_playwright

    if shutil.which("chromium") is None:
        print("  skipped: Chromium is not installed (Debian: apt-get install chromium)")
        return
    own = own_time()
    with serving() as (server, url):
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
            page = browser.new_page()
            page.goto(url)
            page_ms, memory = [], []
            for _ in range(11):
                page.set_input_files("#file", str(PHOTO))
                page.wait_for_function("document.body.dataset.state === 'busy'")
                page.wait_for_function("document.body.dataset.state === 'ready'", timeout=120_000)
                page_ms.append(page.evaluate("window.emoca.lastMs"))
                memory.append(resident_mb(server.pid))
            browser.close()
    page_s = statistics.median(page_ms[1:]) / 1000
    print("London smiling/001, --method regress, this machine, nothing else running:")
    print(f"  emoca reconstruct's own time for the photo (median of 3): {own:.2f} s")
    print(f"  the page, upload to viewer ready (median of 10, in Chromium): {page_s:.2f} s = {page_s / own:.2f}x  "
          "[target <= 1.5x]")
    print(f"  server resident memory after upload 1: {memory[0]:.0f} MB, after upload 11: {memory[-1]:.0f} MB: "
          f"{memory[-1] - memory[0]:+.1f} MB over ten uploads  [target <= 100 MB]")
    record("serve", {"regress, London smiling/001": {"own_s": round(own, 2), "page_s": round(page_s, 2),
                                                     "ratio": round(page_s / own, 2),
                                                     "memory_growth_mb": round(memory[-1] - memory[0], 1)}})


if __name__ == "__main__":
    main()
