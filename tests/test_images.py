import numpy as np
import pytest
import torch
from PIL import Image

from styleport.errors import ImageError, UsageError
from styleport.images import load_image, pil_to_tensor, save_image, tensor_to_pil
from tests.conftest import PHOTOS


def _gradient(w=40, h=30) -> Image.Image:
    x = np.linspace(0, 255, w)[None, :, None]
    y = np.linspace(0, 255, h)[:, None, None]
    arr = np.concatenate([np.broadcast_to(x, (h, w, 1)), np.broadcast_to(y, (h, w, 1)), np.full((h, w, 1), 90)], 2)
    return Image.fromarray(arr.astype(np.uint8), "RGB")


def test_cmyk_jpeg(tmp_path):
    _gradient().convert("CMYK").save(tmp_path / "c.jpg")
    img = load_image(tmp_path / "c.jpg")
    assert img.rgb.mode == "RGB" and img.size == (40, 30) and img.alpha is None
    assert np.abs(np.asarray(img.rgb, float) - np.asarray(_gradient(), float)).mean() < 12


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path):
    arr = np.linspace(0, 65535, 40 * 30).reshape(30, 40).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    img = load_image(tmp_path / "g16.png")
    px = np.asarray(img.rgb)
    assert px.max() == 255 and px.min() == 0
    assert abs(int(px[15, 20, 0]) - int(arr[15, 20]) // 257) <= 1  # mid-gray stays mid-gray


def test_alpha_is_split_and_reattached(tmp_path):
    rgba = _gradient().convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((40, 30)))
    rgba.save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    assert img.alpha is not None and img.alpha.size == (40, 30)
    save_image(tmp_path / "out.png", img.rgb, img.alpha)
    back = Image.open(tmp_path / "out.png")
    assert back.mode == "RGBA"
    assert np.array_equal(np.asarray(back.getchannel("A")), np.asarray(img.alpha))
    save_image(tmp_path / "out.jpg", img.rgb, img.alpha)  # JPEG cannot hold alpha: dropped
    assert Image.open(tmp_path / "out.jpg").mode == "RGB"


def test_palette_with_transparency(tmp_path):
    pal = _gradient().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", transparency=0)
    img = load_image(tmp_path / "p.png")
    assert img.rgb.mode == "RGB" and img.alpha is not None


def test_grayscale_and_bilevel(tmp_path):
    _gradient().convert("L").save(tmp_path / "l.png")
    _gradient().convert("1").save(tmp_path / "b.png")
    assert load_image(tmp_path / "l.png").rgb.mode == "RGB"
    assert load_image(tmp_path / "b.png").rgb.mode == "RGB"


def test_exif_orientation_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    _gradient(40, 30).save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").size == (30, 40)


def test_size_limit_is_checked_before_decoding(tmp_path):
    _gradient(400, 300).save(tmp_path / "big.png")
    with pytest.raises(ImageError, match=r"big\.png: 400x300 .*limit.*--max-pixels"):
        load_image(tmp_path / "big.png", max_pixels=100_000)
    assert load_image(tmp_path / "big.png", max_pixels=120_000).size == (400, 300)


def test_one_by_one(tmp_path):
    Image.new("RGB", (1, 1), (10, 20, 30)).save(tmp_path / "one.png")
    assert load_image(tmp_path / "one.png").size == (1, 1)


def test_truncated_and_corrupt_and_non_image(tmp_path):
    data = PHOTOS[0].read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match=r"trunc\.jpg: truncated"):
        load_image(tmp_path / "trunc.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ImageError, match=r"notes\.txt: not an image"):
        load_image(tmp_path / "notes.txt")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    with pytest.raises(ImageError, match=r"bad\.png"):
        load_image(tmp_path / "bad.png")
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.jpg")


def test_tensor_roundtrip_and_layout():
    img = _gradient()
    t = pil_to_tensor(img)
    assert t.shape == (1, 3, 30, 40) and t.dtype == torch.float32 and t.max() <= 255
    assert t[0, 0, 0, -1] == 255  # red ramps left to right
    assert np.array_equal(np.asarray(tensor_to_pil(t)), np.asarray(img))


def test_save_is_atomic_and_checks_extension(tmp_path):
    with pytest.raises(UsageError, match="extension"):
        save_image(tmp_path / "x.xyz", _gradient())
    save_image(tmp_path / "sub" / "x.webp", _gradient())
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["x.webp"]  # no temp files left


def test_png_output_is_lossless_at_the_fast_zlib_level(tmp_path):
    noisy = np.random.default_rng(0).integers(0, 256, (33, 47, 3), dtype=np.uint8)
    save_image(tmp_path / "n.png", Image.fromarray(noisy))
    with Image.open(tmp_path / "n.png") as back:
        assert back.mode == "RGB" and np.array_equal(np.asarray(back), noisy)
