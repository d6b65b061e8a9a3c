"""The page's live mode: a WebSocket (`/api/live`) that takes a webcam's frames and answers each with
the face's morph-target weights, head rotation, gaze and emotion; a take recorded on the server.

Transport: WebSocket (RFC 6455) through uvicorn with the `websockets` library (maintained, sans-I/O core,
bounded message size and queue): one connection carries frames up and answers down with no per-frame
request set-up, and the browser has it built in. The browser keeps at most `LiveLimits.in_flight` frames
unanswered and drops the camera's frames meanwhile, so a slow server means fewer answers, never a queue.

Messages, client to server:
- binary: a frame: 8 bytes little-endian float64, the capture time (milliseconds on the client's
  clock), then a JPEG or PNG image.
- text JSON: {"record": true} starts a take, {"record": false} ends it; {"reset": true} forgets the face.
Server to client (text JSON, each with "type"):
- "hello": {names (the head's morph targets, the order of every frame's weights), head (the GLB to
  show), limits}.
- "frame": {t (the capture time sent), found, weights, rotation (axis-angle, radians, glTF axes),
  gaze, emotion, ms (the server's milliseconds: {total} without a face, else also landmarks, predict,
  gaze_emotion)}; frames are answered in order.
- "take": {frames, seconds, files: {take.csv, take.glb}} when a take ends (or reaches its length limit).
- "error": {error}: one line (a frame that is not an image, an unknown command); the stream goes on.
The server closes with 1003 on text that is not JSON, 1009 on a message over the size limit, and
1013 ("busy, retry later") when `max_streams` streams are already live.
"""

import json
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from starlette.websockets import WebSocket, WebSocketDisconnect

from emoca.animation.arkit_csv import ArkitFrame, write_arkit_csv
from emoca.animation.exports import gaze_weights, write_animated_glb
from emoca.animation.puppet import GAZE_TARGETS, Puppet
from emoca.errors import InputError
from emoca.facemodel.arkit import ict_to_arkit
from emoca.io.images import image_from_bytes
from emoca.pipeline.live import LiveFrame, LiveTracker
from emoca.pipeline.photo import Reconstructor

TAKE_FILES = ("take.csv", "take.glb")


@dataclass
class LiveLimits:
    """max_streams: live streams at once (each costs a frame's compute). max_frame_kb: a frame message's
    size limit (the browser sends 640-px JPEGs of 30-80 kB). max_frame_megapixels: a frame's declared
    size limit, checked before decoding. max_take_s: a take's length limit (seconds; memory stays
    bounded). in_flight: unanswered frames the page keeps (2: one computed, one waiting)."""

    max_streams: int = 2
    max_frame_kb: int = 2048
    max_frame_megapixels: float = 4.0
    max_take_s: float = 600.0
    in_flight: int = 2


@dataclass
class LiveTake:
    """The frames of one take (`LiveFrame`s, in order; times from the client's clock)."""

    frames: list[LiveFrame] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return 0.0 if len(self.frames) < 2 else self.frames[-1].time_s - self.frames[0].time_s

    def write(self, folder: Path, puppet: Puppet) -> int:
        """take.csv (Live Link Face) and take.glb (the puppet animated) in `folder`; returns the frames
        written (frames without a face hold the last face; none before the first face). 0: no face in
        the take, nothing written."""
        faces = [frame for frame in self.frames if frame.found]
        if not faces:
            return 0
        start, last, held = self.frames[0].time_s, faces[0], []
        for frame in self.frames:
            last = frame if frame.found else last
            held.append((frame.time_s - start, last))
        fps = max(1.0, (len(held) - 1) / held[-1][0]) if held[-1][0] > 0 else 30.0
        ahead = np.zeros(2, np.float32)
        write_arkit_csv(folder / "take.csv", (
            ArkitFrame(t, ict_to_arkit(torch.as_tensor(f.expression, dtype=torch.float64)).numpy(), f.rotation,
                       ahead if f.gaze is None else f.gaze) for t, f in held), round(fps))
        rows = [np.concatenate([f.expression, gaze_weights((ahead if f.gaze is None else f.gaze)[None])[0]])
                for _, f in held]
        write_animated_glb(folder / "take.glb", puppet, [t for t, _ in held], rows, [f.rotation for _, f in held],
                           puppet.texture_png)
        return len(held)


def frame_json(frame: LiveFrame) -> dict:
    """The "frame" answer: weights in the head's morph-target order (expressions, then `GAZE_TARGETS`)."""
    if not frame.found:
        return {"type": "frame", "found": False, "ms": {"total": round(frame.timings_ms["total"], 1)}}
    gaze = np.zeros(2, np.float32) if frame.gaze is None else frame.gaze
    weights = np.concatenate([frame.expression, gaze_weights(gaze[None])[0]])
    return {"type": "frame", "found": True, "weights": [round(float(w), 4) for w in weights],
            "rotation": [round(float(r), 5) for r in frame.rotation], "gaze": [round(float(g), 4) for g in gaze],
            "emotion": None if frame.emotion is None else frame.emotion.to_json(),
            "ms": {k: round(v, 1) for k, v in frame.timings_ms.items()}}


class LiveStreams:
    """What every live stream shares: the reconstructor, `run` (awaits a call on the models' one thread,
    `emoca.serve.app.FacePage.run`, which the page's uploads share), the streams' count, and where takes
    are written (`new_folder()` -> (key, folder), a fresh results folder)."""

    def __init__(self, reconstructor: Reconstructor, run: Callable[..., Awaitable], config: LiveLimits,
                 new_folder: Callable[[], tuple[str, Path]]) -> None:
        self.reconstructor, self.run, self.config, self.new_folder = reconstructor, run, config, new_folder
        self.count = 0  # changed on the event loop only

    async def serve(self, socket: WebSocket, puppet: Puppet, head_url: str) -> None:
        """One stream, until the client leaves or breaks the protocol."""
        await socket.accept()
        if self.count >= self.config.max_streams:
            await socket.send_json({"type": "error", "error": f"live: busy ({self.count} streams already), "
                                                              "retry later"})
            await socket.close(1013, "busy, retry later")
            return
        self.count += 1
        try:
            await self._stream(socket, puppet, head_url)
        except WebSocketDisconnect:
            pass
        finally:
            self.count -= 1

    async def _stream(self, socket: WebSocket, puppet: Puppet, head_url: str) -> None:
        tracker = LiveTracker(self.reconstructor)
        names = list(puppet.names) + list(GAZE_TARGETS)
        limit = self.config.max_frame_kb * 1024
        await socket.send_json({"type": "hello", "names": names, "head": head_url,
                                "limits": {"frame_kb": self.config.max_frame_kb, "in_flight": self.config.in_flight,
                                           "take_s": self.config.max_take_s}})
        take: LiveTake | None = None
        count = 0
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            data, text = message.get("bytes"), message.get("text")
            if data is not None:
                count += 1
                if len(data) > limit:  # uvicorn's own limit closes far larger messages (1009)
                    await socket.close(1009, f"frame over {self.config.max_frame_kb} kB")
                    return
                answer, frame = await self.run(self._frame, tracker, data, count)
                await socket.send_json(answer)
                if take is not None and frame is not None:
                    take.frames.append(frame)
                    if take.seconds >= self.config.max_take_s:
                        await socket.send_json(await self.run(self._end_take, take, puppet))
                        take = None
                continue
            try:
                command = json.loads(text or "")
            except json.JSONDecodeError:
                await socket.close(1003, "text messages must be JSON commands")
                return
            if isinstance(command, dict) and command.get("record") is True:
                take = LiveTake()
            elif isinstance(command, dict) and command.get("record") is False:
                if take is not None:
                    await socket.send_json(await self.run(self._end_take, take, puppet))
                take = None
            elif isinstance(command, dict) and command.get("reset") is True:
                tracker.reset()
            else:
                await socket.send_json({"type": "error", "error": f"live: unknown command {str(command)[:80]!r}"})

    def _frame(self, tracker: LiveTracker, data: bytes, count: int) -> tuple[dict, LiveFrame | None]:
        """(the answer, the frame or None): a frame that is not `time + image` gets an "error" answer."""
        name = f"live frame {count}"
        if len(data) < 9:
            return {"type": "error", "error": f"{name}: too short (8 bytes of time, then an image)"}, None
        (time_ms,) = struct.unpack("<d", data[:8])
        if not np.isfinite(time_ms):
            return {"type": "error", "error": f"{name}: its time is not a number"}, None
        try:
            image = image_from_bytes(data[8:], name, self.config.max_frame_megapixels)
        except InputError as error:
            return {"type": "error", "t": time_ms, "error": str(error)}, None
        frame = tracker(image, time_ms / 1000)
        return {**frame_json(frame), "t": time_ms}, frame

    def _end_take(self, take: LiveTake, puppet: Puppet) -> dict:
        key, folder = self.new_folder()
        written = take.write(folder, puppet)
        if not written:
            return {"type": "error", "error": "take: no face in it, nothing written"}
        return {"type": "take", "frames": written, "seconds": round(take.seconds, 2),
                "files": {name: f"/api/result/{key}/{name}" for name in TAKE_FILES}}
