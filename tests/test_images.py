"""Image input: every odd file a user throws at it decodes upright to 8-bit RGB, or fails in one line."""

import numpy as np
import pytest
import torch
from PIL import Image

from emoca.errors import InputError
from emoca.io.image_output import save_image, to_uint8
from emoca.io.images import expand_inputs, load_image


def _pattern(height=40, width=60):
    y, x = np.mgrid[:height, :width]
    return np.stack([x * 4, y * 6, np.full_like(x, 128)], -1).astype(np.uint8)


def test_modes_become_8bit_rgb(tmp_path):
    rgb = _pattern()
    Image.fromarray(rgb).convert("L").save(tmp_path / "grey.png")
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], -1)
    rgba[0, 0, 3] = 0  # one transparent pixel: shown over white
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(tmp_path / "deep.png")  # 16-bit grey
    for name in ("grey.png", "rgba.png", "cmyk.jpg", "palette.png", "deep.png"):
        image = load_image(tmp_path / name)
        assert image.dtype == np.uint8 and image.shape == (40, 60, 3), name
    assert (load_image(tmp_path / "rgba.png")[0, 0] == 255).all()
    np.testing.assert_array_equal(load_image(tmp_path / "rgba.png")[1:, 1:], rgb[1:, 1:])
    deep = load_image(tmp_path / "deep.png")
    np.testing.assert_allclose(deep[..., 0], rgb[..., 0], atol=1)  # 16 bits scaled back to 8
    assert np.abs(load_image(tmp_path / "cmyk.jpg").astype(int) - rgb).mean() < 12


def test_exif_orientation_is_respected(tmp_path):
    rgb = _pattern()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display rotates 90 degrees clockwise
    Image.fromarray(rgb).save(tmp_path / "rotated.jpg", exif=exif, quality=98)
    image = load_image(tmp_path / "rotated.jpg")
    assert image.shape == (60, 40, 3)
    expected = np.rot90(rgb, k=-1)
    assert np.abs(image.astype(int) - expected).mean() < 4


@pytest.mark.parametrize("name,payload,reason", [
    ("empty.jpg", b"", "empty file"),
    ("text.png", b"not an image at all", "not an image"),
])
def test_undecodable_files_fail_in_one_line(tmp_path, name, payload, reason):
    (tmp_path / name).write_bytes(payload)
    with pytest.raises(InputError) as error:
        load_image(tmp_path / name)
    message = str(error.value)
    assert name in message and reason in message and "\n" not in message


def test_truncated_tiny_and_missing_images(tmp_path):
    Image.fromarray(_pattern(200, 200)).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    for side in (1, 10):
        Image.fromarray(np.zeros((side, side, 3), np.uint8)).save(tmp_path / f"tiny{side}.png")
    for name, reason in (("cut.jpg", "cannot decode"), ("tiny1.png", "too small"), ("tiny10.png", "too small"),
                         ("missing.png", "no such file")):
        with pytest.raises(InputError, match=reason) as error:
            load_image(tmp_path / name)
        assert name in str(error.value)


def test_folders_are_walked_in_order_and_non_images_reported(tmp_path):
    for name in ("b.png", "a.jpg", "sub/c.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(_pattern()).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    (tmp_path / "x.jpg").mkdir()  # a folder named like a photo, empty
    items = list(expand_inputs([tmp_path, tmp_path / "nope.jpg", tmp_path / "x.jpg", tmp_path / "sub" / "c.png"]))
    found = [item for item in items if not isinstance(item, InputError)]
    errors = [str(item) for item in items if isinstance(item, InputError)]
    assert [item.path.name for item in found] == ["a.jpg", "b.png", "c.png", "c.png"]
    assert [item.name for item in found] == ["a", "b", "sub/c", "c"]  # folders mirrored; a file named: its stem
    assert any("notes.txt" in e and "not an image" in e for e in errors)
    assert any("nope.jpg" in e and "no such file" in e for e in errors)
    assert sum("symbolic link" in e for e in errors) == 2
    assert any("x.jpg" in e and "no files" in e for e in errors)


def test_float_images_become_uint8_either_layout_clipped_and_rounded(tmp_path):
    channels_last = torch.tensor([[[0.0, 0.5, 1.0], [-0.2, 1.3, 0.998]]])  # (1, 2, 3)
    expected = np.array([[[0, 128, 255], [0, 255, 254]]], np.uint8)
    np.testing.assert_array_equal(to_uint8(channels_last), expected)
    np.testing.assert_array_equal(to_uint8(channels_last.permute(2, 0, 1)), expected)  # (3, 1, 2)
    save_image(tmp_path / "image.png", channels_last)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "image.png")), expected)
    assert [p.name for p in tmp_path.iterdir()] == ["image.png"]  # no temporary left
