"""Video input and output through PyAV (FFmpeg), streamed: memory does not grow with the video's length.

`VideoReader` yields decoded frames one at a time; a corrupt tail stops the stream after the last good
frame and leaves the reason in `.error` (callers write what was decoded and report the rest).
`VideoWriter` encodes H.264 (yuv420p, the format every player reads) to a temporary name and renames
it on success, so a crash never leaves a half-written video under the final name.
"""

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from emoca.errors import InputError
from emoca.io.atomic import atomic_path

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


class VideoReader:
    """Frames of a video file as (H, W, 3) uint8 RGB arrays.

    Attributes after opening: fps (float), width, height, frame_count (the container's frame count, or
    its duration x fps; 0 if unknown). After iterating: decoded (frames yielded), error (None, or why
    decoding stopped early).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(self.path, "no such file")
        try:
            self._container = av.open(str(self.path))
            stream = self._container.streams.video[0]
        except (av.FFmpegError, IndexError) as error:
            raise InputError(self.path, f"not a readable video ({error})") from None
        self._stream = stream
        self.fps = float(stream.average_rate or stream.guessed_rate or 25)
        self.width, self.height = stream.codec_context.width, stream.codec_context.height
        duration = self._container.duration  # microseconds, from the header (kept when the tail is cut)
        self.frame_count = int(stream.frames or 0) or (round(duration / av.time_base * self.fps) if duration else 0)
        self.decoded = 0
        self.error: str | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            for frame in self._container.decode(self._stream):
                self.decoded += 1
                yield frame.to_ndarray(format="rgb24")
        except (av.FFmpegError, ValueError) as error:
            self.error = f"decoding stopped after frame {self.decoded}: {error}"
        finally:
            self._container.close()
        if self.decoded == 0 and self.error is None:
            self.error = "the video has no frames"
        elif self.error is None and self.frame_count and self.decoded < self.frame_count - 1:
            self.error = f"only {self.decoded} of {self.frame_count} frames could be decoded (truncated?)"


class VideoWriter:
    """Context manager: `with VideoWriter(path, fps, (width, height)) as w: w.write(rgb)`."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], crf: int = 20) -> None:
        self.path, self.fps, self.size, self.crf = Path(path), fps, size, crf

    def __enter__(self) -> "VideoWriter":
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        if self.path.suffix.lower() not in CONTAINERS:
            raise InputError(self.path, f"cannot write video as {self.path.suffix!r} (use {sorted(CONTAINERS)})")
        self._container = av.open(str(tmp), mode="w", format=CONTAINERS[self.path.suffix.lower()])
        self._stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
        self._stream.width, self._stream.height = (s - s % 2 for s in self.size)  # yuv420p needs even sides
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(self.crf)}
        return self

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame of the writer's size."""
        frame = np.ascontiguousarray(frame[: self._stream.height, : self._stream.width])
        for packet in self._stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            self._container.mux(packet)

    def __exit__(self, kind, value, traceback) -> None:
        try:
            if kind is None:
                for packet in self._stream.encode():
                    self._container.mux(packet)
        finally:
            self._container.close()
            self._atomic.__exit__(kind, value, traceback)
