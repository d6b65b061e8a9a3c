"""`emoca serve`: a local web page to capture a face from a photo and look at it in 3D.

FastAPI serves one static page (`static/`: HTML, CSS and a small script) with three.js vendored from
its npm package at build time (`make setup` copies it to `static/vendor/`; no CDN: the page works
offline), and three JSON/file endpoints:

- `POST /api/reconstruct` (multipart `photo`): reconstructs the main face with the regressor (as
  `emoca reconstruct --method regress`), writes its files into the server's temporary folder and answers
  {id, expression (53 weights), emotion (from the geometry: the reconstruction's expression weights),
  timings_ms, files}.
  A bad upload answers 400 with the CLI's one-line message; an upload over `max_upload_mb` answers 413
  before anything is decoded.
- `GET /api/result/{id}/{name}`: `params.json`, `mesh.obj` with `mesh.mtl` and `texture.png` (the
  photo's texture, `emoca.texture`, also the base colour of both GLBs), `face.glb` (the whole head, the 53
  expressions and 4 gaze shapes as morph targets; made when first asked for), `take.csv` (Live Link
  Face), `overlay.png`, and `view.glb` (what the viewer shows: the captured face with the `SLIDERS`'
  shapes as morph targets, posed by the page's sliders in the browser without a new reconstruction).
- `GET /api/health`.
- `GET /api/live/head.glb` (ICT's mean face with every expression and gaze shape as morph targets) and
  the live WebSocket `/api/live?head=ID` (`emoca.serve.live`: webcam frames up, weights down; the head of
  upload ID when given, else the mean face; a take written as `take.csv` and `take.glb`).

Under load and attack: every use of the models runs on one worker thread in order; more than
`max_waiting` uploads are answered 503 with Retry-After; a body that does not arrive within
`upload_timeout_s` gets 408 (others are served meanwhile); a non-multipart upload 415; paths outside
the results are 404 (results are looked up by id and a fixed list of names, never joined from the URL).

Only the last `keep` results are kept (older folders are deleted); the temporary folder goes when the
server stops. Nothing is written anywhere else.
"""

import asyncio
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile as StarletteUpload

from emoca.animation.arkit_csv import write_arkit_csv
from emoca.animation.exports import STILL_FPS, animation_row, arkit_frame, write_animated_glb
from emoca.animation.puppet import Puppet
from emoca.errors import InputError
from emoca.io.images import load_image
from emoca.io.mesh_export import write_glb
from emoca.methods import FAST_METHOD
from emoca.output.capture import Capture, CapturedFace
from emoca.output.writer import OutputWriter
from emoca.pipeline.photo import Reconstructor, ReconstructorConfig
from emoca.serve.live import TAKE_FILES, LiveLimits, LiveStreams
from emoca.texture.atlas import mesh_uv

T = TypeVar("T")
STATIC = Path(__file__).resolve().parent / "static"
VENDOR = STATIC / "vendor" / "three"
FILES = ("params.json", "mesh.obj", "mesh.mtl", "texture.png", "face.glb", "take.csv", "overlay.png", "view.glb")
SERVED = (*FILES, *TAKE_FILES)  # a live take's folder holds TAKE_FILES
# The expressions the page's sliders move (in the browser, on view.glb's morph targets).
SLIDERS = ("jawOpen", "mouthSmile_L", "mouthSmile_R", "browInnerUp_L", "browInnerUp_R", "eyeBlink_L", "eyeBlink_R",
           "mouthFunnel")


@dataclass
class ServeConfig:
    """method: how photos are reconstructed (`emoca.methods.FAST_METHOD`: the regressor, under a second a
    photo here). max_upload_mb: larger uploads are refused before decoding.
    keep: results kept on disk. max_waiting: uploads reconstructing or waiting for their turn; more
    are answered 503 ("busy, retry", with Retry-After) instead of queueing without end.
    upload_timeout_s: an upload's whole body must arrive within this (408 otherwise: a client sending a
    byte at a time holds no worker). live: the live mode's limits (`emoca.serve.live`)."""

    method: str = FAST_METHOD
    max_upload_mb: float = 20.0
    keep: int = 16
    max_waiting: int = 8
    upload_timeout_s: float = 30.0
    live: LiveLimits = field(default_factory=LiveLimits)


class Results:
    """The last `keep` results' folders under one temporary folder (thread-safe)."""

    def __init__(self, keep: int) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="emoca-serve-")
        self.root = Path(self._folder.name)
        self.keep = keep
        self._order: OrderedDict[str, Path] = OrderedDict()
        self._lock = threading.Lock()

    def new(self) -> tuple[str, Path]:
        """A fresh result folder; the oldest beyond `keep` are deleted."""
        key = uuid.uuid4().hex[:12]
        folder = self.root / key
        folder.mkdir()
        with self._lock:
            self._order[key] = folder
            while len(self._order) > self.keep:
                _, old = self._order.popitem(last=False)
                shutil.rmtree(old, ignore_errors=True)
        return key, folder

    def file(self, key: str, name: str) -> Path | None:
        with self._lock:
            folder = self._order.get(key)
        path = None if folder is None or name not in SERVED else folder / name
        return path if path is not None and path.is_file() else None

    def discard(self, key: str) -> None:
        with self._lock:
            folder = self._order.pop(key, None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        self._folder.cleanup()


class FacePage:
    """The models, loaded once, and what one upload does. The models are not re-entrant, and every use
    of them runs on one worker thread (`run`): calls wait their turn in order, and torch's, OpenMP's and
    MediaPipe's per-thread pools are made once (8 uploads at once from the event loop's thread pool,
    one thread each, grew the server by 410 MB; 30-70 MB more for the next eights)."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.reconstructor = Reconstructor(ReconstructorConfig(method=config.method))
        self.writer = OutputWriter(self.reconstructor)
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="emoca-models",
                                         initializer=torch.set_grad_enabled, initargs=(False,))

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` on the models' thread, awaited."""
        return await asyncio.get_running_loop().run_in_executor(self.worker, partial(function, *args))

    def reconstruct(self, upload: Path, name: str, folder: Path) -> dict:
        """Reconstruct `upload` into `folder`; the page's JSON. Raises `InputError` for a bad photo."""
        started = time.perf_counter()
        try:
            image = load_image(upload)
        except InputError as error:  # named as the user named it, not as the temporary file
            raise InputError(name, error.reason) from None
        faces = self.reconstructor.reconstruct(image)
        if not faces:
            raise InputError(name, "no face found")
        faces = faces[:1]
        records = self.writer.photo(Path(name), folder, image, faces, started, colour_render=False)  # not shown
        face = CapturedFace.from_record(records[0])  # the values params.json holds, not read back from it
        puppet = Puppet(self.reconstructor.decoder, face)
        write_view_glb(folder / "view.glb", puppet, face, Capture(folder / "params.json").texture_png())
        write_arkit_csv(folder / "take.csv", [arkit_frame(face, 0.0, puppet.names, pose=True)], STILL_FPS)
        emotion = faces[0].emotion
        sliders = dict(zip(SLIDERS, face.weights_in(SLIDERS).tolist(), strict=True))
        return {"expression": face_json(face), "sliders": sliders,
                "emotion": None if emotion is None else emotion.to_json(),
                "timings_ms": {**{k: round(v, 1) for k, v in faces[0].timings_ms.items()},
                               "server_total": round(1000 * (time.perf_counter() - started), 1)}}

    def head(self, folder: Path | None) -> Puppet:
        """The head a live stream drives: the face captured in `folder` (its params.json and texture), or
        ICT's mean face (None)."""
        if folder is None:
            return Puppet.neutral(self.reconstructor.decoder)
        capture = Capture(folder / "params.json")
        return Puppet(self.reconstructor.decoder, capture.first_face(), capture.texture_png())

    def full_glb(self, folder: Path) -> None:
        """face.glb (every expression and gaze shape as a morph target), made when first asked for."""
        capture = Capture(folder / "params.json")
        face = capture.first_face()
        puppet = Puppet(self.reconstructor.decoder, face)
        write_animated_glb(folder / "face.glb", puppet, [0.0], [animation_row(face, puppet.names)],
                           [np.zeros(3)], capture.texture_png())

def write_view_glb(path: Path, puppet: Puppet, face: CapturedFace, texture_png: bytes | None = None) -> None:
    """The page's light GLB: the face as captured (expression and gaze, no head rotation) with only the
    `SLIDERS`' shapes as morph targets (a slider at v sets its target's weight to v minus the captured
    weight): about a seventh of face.glb, so the viewer is ready sooner; `texture_png`: the photo's
    texture as its base colour."""
    model = puppet.model
    gaze = None if face.gaze is None else torch.as_tensor(face.gaze[None])
    captured = puppet.vertices(torch.as_tensor(face.weights_in(puppet.names)[None]), gaze)[0].numpy()
    deltas = puppet.deltas[[puppet.names.index(name) for name in SLIDERS]].numpy()
    write_glb(path, captured, model.triangles.numpy(), model.units, deltas, list(SLIDERS),
              *mesh_uv(model, texture_png is not None), texture_png=texture_png)


def face_json(face: CapturedFace) -> dict[str, float]:
    """The 53 expression weights by name."""
    return {name: round(float(weight), 4) for name, weight in zip(face.expression_names, face.expression, strict=True)}


DRAIN_MB = 64
"""An oversized upload's body is read and dropped up to this size before the 413 is sent, so a client
still sending gets the answer instead of a broken pipe; past it the connection is closed unread."""


async def _discard_body(request: Request, most: int) -> None:
    """Read and drop up to `most` bytes of the request body, never keeping it (bytes)."""
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > most:
            return


def create_app(config: ServeConfig | None = None) -> FastAPI:
    """The FastAPI application (models loaded here, once)."""
    config = config or ServeConfig()
    if not (VENDOR / "build" / "three.module.js").is_file():
        raise InputError(VENDOR, "three.js is missing from the page's files: run `make setup` (it copies the "
                                 "npm package three into the package)")
    torch.set_grad_enabled(False)
    page = FacePage(config)
    results = Results(config.keep)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        page.worker.shutdown(cancel_futures=True)
        results.close()  # the temporary folder goes with the server

    app = FastAPI(title="emoca", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    limit = int(config.max_upload_mb * 1024 * 1024)

    @app.get("/api/health")
    def health() -> dict:
        return {"ok": True, "method": config.method}

    waiting = [0]  # uploads admitted and not yet answered (changed on the event loop only)

    @app.post("/api/reconstruct")
    async def reconstruct(request: Request) -> JSONResponse:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return JSONResponse({"error": "upload: send the photo as multipart/form-data (a form field "
                                          "named photo)"}, 415)
        too_large = f"larger than the {config.max_upload_mb:g} MB limit"
        try:
            declared = int(request.headers.get("content-length") or 0)
        except ValueError:
            return JSONResponse({"error": "upload: its Content-Length is not a number"}, 400)
        if declared > limit + 64 * 1024:  # refused on the declared size, never decoded
            await _discard_body(request, DRAIN_MB * 1024 * 1024)
            return JSONResponse({"error": f"upload: {too_large}"}, 413)
        if waiting[0] >= config.max_waiting:
            return JSONResponse({"error": f"busy: {waiting[0]} uploads ahead of this one, retry in a few "
                                          "seconds"}, 503, headers={"Retry-After": "5", "Connection": "close"})
        waiting[0] += 1
        try:
            return await _reconstruct(request, limit, too_large)
        finally:
            waiting[0] -= 1

    async def _reconstruct(request: Request, limit: int, too_large: str) -> JSONResponse:
        try:
            form = await asyncio.wait_for(request.form(max_files=1, max_fields=4, max_part_size=limit),
                                          config.upload_timeout_s)
        except TimeoutError:
            return JSONResponse({"error": f"upload: the body did not arrive within {config.upload_timeout_s:g} s"},
                                408, headers={"Connection": "close"})
        except Exception as error:  # noqa: BLE001 - a malformed or oversized form: one line
            return JSONResponse({"error": f"upload: not a photo upload ({error})"}, 400)
        photo = form.get("photo")
        if not isinstance(photo, StarletteUpload):
            return JSONResponse({"error": "upload: no photo in the form"}, 400)
        name = Path(photo.filename or "upload").name
        if (photo.size or 0) > limit:
            return JSONResponse({"error": f"{name}: {too_large}"}, 413)
        key, folder = results.new()
        upload = folder / ("upload" + Path(name).suffix.lower()[:8])
        try:
            with open(upload, "wb") as out:
                shutil.copyfileobj(photo.file, out)
            answer = await page.run(page.reconstruct, upload, name, folder)  # the page stays served
        except InputError as error:
            results.discard(key)
            return JSONResponse({"error": str(error)}, 400)
        except Exception as error:  # noqa: BLE001 - the server keeps serving; the page shows one line
            results.discard(key)
            return JSONResponse({"error": f"{name}: failed unexpectedly ({type(error).__name__}: {error})"}, 500)
        finally:
            upload.unlink(missing_ok=True)
            await form.close()
        return JSONResponse({"id": key, **answer, "files": {n: f"/api/result/{key}/{n}" for n in FILES}})

    @app.get("/api/result/{key}/{name}")
    async def result(key: str, name: str):
        if name == "face.glb" and results.file(key, name) is None and results.file(key, "params.json") is not None:
            await page.run(page.full_glb, results.file(key, "params.json").parent)
        path = results.file(key, name)
        if path is None:
            return JSONResponse({"error": f"{name}: no such result (results are kept for the last "
                                          f"{config.keep} uploads)"}, 404)
        return FileResponse(path, filename=name)

    live = LiveStreams(page.reconstructor, page.run, config.live, results.new)
    neutral_head = results.root / "head.glb"

    @app.get("/api/live/head.glb")
    async def head_glb() -> FileResponse:
        """ICT's mean face with every expression and gaze shape as a morph target (made once)."""
        if not neutral_head.is_file():
            puppet = await page.run(page.head, None)
            await page.run(write_animated_glb, neutral_head, puppet, [0.0],
                                    [np.zeros(len(puppet.names) + 4)], [np.zeros(3)])
        return FileResponse(neutral_head, filename="head.glb")

    @app.websocket("/api/live")
    async def live_stream(socket: WebSocket, head: str = "") -> None:
        """A live stream driving the head of result `head` (a photo's capture), or ICT's mean face."""
        params = results.file(head, "params.json") if head else None
        puppet = await page.run(page.head, None if params is None else params.parent)
        url = f"/api/result/{head}/face.glb" if params is not None else "/api/live/head.glb"
        await live.serve(socket, puppet, url)

    app.mount("/", StaticFiles(directory=STATIC, html=True), name="page")
    return app
