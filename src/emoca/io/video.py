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
from emoca.io.images import MIN_SIDE

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


class VideoReader:
    """Frames of a video file as (H, W, 3) uint8 RGB arrays.

    Attributes after opening: fps (float), width, height (of the frames as shown, after the display
    rotation), frame_count (the container's frame count, or its duration x fps; 0 if unknown). After
    iterating: decoded (frames yielded), damaged (packets skipped), error (None, or why not every frame
    could be decoded).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(self.path, "no such file")
        try:
            self._container = av.open(str(self.path))
            stream = self._container.streams.video[0]
        except (av.FFmpegError, IndexError, UnicodeDecodeError) as error:
            reason = (f"not a readable video ({error})" if not isinstance(error, IndexError)
                      else "no video track (audio only, or cut before the container's index)")
            raise InputError(self.path, reason) from None
        self._stream = stream
        self.fps = float(stream.average_rate or stream.guessed_rate or 25)
        self.width, self.height = stream.codec_context.width, stream.codec_context.height
        if min(self.width, self.height) < MIN_SIDE:
            self._container.close()
            raise InputError(self.path, f"video is {self.width}x{self.height} px, too small for a face "
                                        f"(at least {MIN_SIDE} px a side)")
        duration = self._container.duration  # microseconds, from the header (kept when the tail is cut)
        self.frame_count = int(stream.frames or 0) or (round(duration / av.time_base * self.fps) if duration else 0)
        self.decoded = 0
        self.damaged = 0  # packets that would not decode, skipped
        self.error: str | None = None
        self._frames = self._decode()
        self._first = next(self._frames, None)  # the first frame tells the rotation, hence the shown size
        if self._first is not None:
            self.height, self.width = self._first.shape[:2]

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._first is not None:
            yield self._first
        yield from self._frames

    def _decode(self) -> Iterator[np.ndarray]:
        """Decode packet by packet, each frame turned upright as its display matrix says (phone videos
        store portrait frames sideways); a packet that does not decode is skipped (a corrupt middle loses
        only its own frames), a container that cannot be read further ends the stream."""
        try:
            for packet in self._container.demux(self._stream):
                try:
                    frames = packet.decode()
                except (av.FFmpegError, ValueError):
                    self.damaged += 1
                    continue
                for frame in frames:
                    self.decoded += 1
                    image = frame.to_ndarray(format="rgb24")
                    turns = round((frame.rotation or 0) / 90) % 4  # counter-clockwise quarter turns to show it
                    yield np.ascontiguousarray(np.rot90(image, turns)) if turns else image
        except (av.FFmpegError, ValueError) as error:
            self.error = f"decoding stopped after frame {self.decoded}: {error}"
        finally:
            self._container.close()
        if self.decoded == 0 and self.error is None:
            self.error = "the video has no frames"
        elif self.error is None and self.damaged:
            self.error = f"{self.damaged} damaged packets skipped ({self.decoded} frames decoded)"
        elif self.error is None and self.frame_count and self.decoded < self.frame_count - 1:
            self.error = f"only {self.decoded} of {self.frame_count} frames could be decoded (truncated?)"


class VideoWriter:
    """Context manager: `with VideoWriter(path, fps, (width, height)) as w: w.write(rgb)`.

    audio_from: a video whose first audio track is copied (not re-encoded) into the file at the end;
    None, or a video without audio, gives a silent file. preset: x264's speed/size trade-off."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], crf: int = 20,
                 audio_from: str | Path | None = None, preset: str = "medium") -> None:
        self.path, self.fps, self.size, self.crf = Path(path), fps, size, crf
        self.audio_from, self.preset = audio_from, preset

    def __enter__(self) -> "VideoWriter":
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        if self.path.suffix.lower() not in CONTAINERS:
            raise InputError(self.path, f"cannot write video as {self.path.suffix!r} (use {sorted(CONTAINERS)})")
        self._container = av.open(str(tmp), mode="w", format=CONTAINERS[self.path.suffix.lower()])
        self._stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
        self._stream.width, self._stream.height = (s - s % 2 for s in self.size)  # yuv420p needs even sides
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(self.crf), "preset": self.preset}
        self._audio = None
        if self.audio_from is not None:
            source = av.open(str(self.audio_from))
            if source.streams.audio:
                self._audio = source, self._container.add_stream_from_template(source.streams.audio[0])
            else:
                source.close()
        self.frames = 0
        return self

    def _copy_audio(self) -> None:
        """Copy the audio packets; a damaged audio track keeps what was copied before the damage."""
        source, stream = self._audio
        try:
            for packet in source.demux(source.streams.audio[0]):
                if packet.dts is not None:
                    packet.stream = stream
                    self._container.mux(packet)
        except (av.FFmpegError, ValueError):
            pass

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame of the writer's size."""
        self.frames += 1
        frame = np.ascontiguousarray(frame[: self._stream.height, : self._stream.width])
        for packet in self._stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            self._container.mux(packet)

    def __exit__(self, kind, value, traceback) -> None:
        """Finish the file and move it to its name; on an error, or with no frame written, nothing is left
        under the name (`InputError` for the latter)."""
        failure = None if kind is not None or self.frames else InputError(self.path, "no frames to write")
        try:
            if kind is None and failure is None:
                for packet in self._stream.encode():
                    self._container.mux(packet)
                if self._audio is not None:
                    self._copy_audio()
        finally:
            if self._audio is not None:
                self._audio[0].close()
            try:
                self._container.close()
            except av.FFmpegError:
                if kind is None and failure is None:
                    raise
            if kind is None and failure is None:
                self._atomic.__exit__(None, None, None)
            else:  # the temporary file goes
                self._atomic.__exit__(kind or InputError, value or failure, traceback)
        if failure is not None:
            raise failure


def write_y4m(path: str | Path, frames: Iterator[np.ndarray], fps: float, size: tuple[int, int]) -> int:
    """Raw YUV 4:2:0 frames in a YUV4MPEG2 file (what Chromium's fake camera plays, looped:
    `--use-file-for-fake-video-capture`), each (H, W, 3) uint8 RGB frame scaled to `size` (width,
    height, even); written atomically; returns the frame count."""
    count = 0
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            for packet in stream.encode(picture.reformat(size[0], size[1], "yuv420p")):
                container.mux(packet)
            count += 1
        for packet in stream.encode():
            container.mux(packet)
    return count
