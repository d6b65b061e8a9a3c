"""Streaming video I/O: round trip, an empty video, a corrupt tail, a missing file."""

import av
import numpy as np
import pytest

from emoca.errors import InputError
from emoca.io.video import VideoReader, VideoWriter


def _frames(count, size=(64, 48)):
    for i in range(count):
        frame = np.full((size[1], size[0], 3), 40, np.uint8)
        frame[10:30, 4 + 2 * i:24 + 2 * i] = (230, 200, 60)  # a square moving right
        yield frame


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_round_trip(tmp_path, suffix):
    path = tmp_path / f"clip{suffix}"
    with VideoWriter(path, 24.0, (64, 48)) as writer:
        for frame in _frames(12):
            writer.write(frame)
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary left behind
    reader = VideoReader(path)
    assert reader.width == 64 and reader.height == 48 and abs(reader.fps - 24) < 0.01
    frames = list(reader)
    assert len(frames) == 12 and reader.error is None
    for got, expected in zip(frames, _frames(12), strict=True):
        assert np.abs(got.astype(int) - expected).mean() < 6


def test_empty_and_truncated_videos_report_what_happened(tmp_path):
    empty = tmp_path / "empty.mkv"
    with pytest.raises(InputError, match="no frames to write"), VideoWriter(empty, 24.0, (64, 48)):
        pass
    assert list(tmp_path.iterdir()) == []  # nothing left under the name, nor a temporary file
    with av.open(str(empty), "w") as container:  # a header and a video track of 0 samples
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    try:  # FFmpeg may refuse a frameless file outright, or open it and find nothing: both must say so
        reader = VideoReader(empty)
        assert list(reader) == [] and "no frames" in reader.error
    except InputError as error:
        assert "empty.mkv" in str(error) and "not a readable video" in str(error)
    full = tmp_path / "full.mkv"
    with VideoWriter(full, 24.0, (64, 48)) as writer:
        for frame in _frames(40):
            writer.write(frame)
    data = full.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    reader = VideoReader(cut)
    frames = list(reader)
    assert 0 < len(frames) < 40 and "could be decoded" in reader.error


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        VideoReader(tmp_path / "nope.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 10)
    with pytest.raises(InputError, match="junk.mp4"):
        VideoReader(tmp_path / "junk.mp4")
    with pytest.raises(InputError, match="cannot write video"):
        with VideoWriter(tmp_path / "x.gif", 10, (8, 8)):
            pass


def test_a_phone_video_with_a_display_rotation_comes_out_upright(tmp_path):
    import struct

    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:8, :16] = 255  # a block at the stored frame's top-left
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = bytearray(path.read_bytes())  # the track header's display matrix: shown turned 90 degrees clockwise
    matrix = data.find(b"tkhd") + 4 + 40
    data[matrix:matrix + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))
    reader = VideoReader(path)
    assert (reader.width, reader.height) == (32, 64)
    frames = list(reader)
    assert len(frames) == 3 and frames[0].shape == (64, 32, 3)
    rows, cols = np.argwhere(frames[0][..., 0] > 128).mean(0)
    assert rows < 10 and cols > 20  # the block is now at the top-right, as a player shows it
