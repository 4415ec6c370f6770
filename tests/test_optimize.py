"""``stylize --optimize``: the loss goes down, snapshots, colours, style blending, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from styleport.cli import main
from styleport.images import pil_to_tensor
from styleport.optimize import GatysLoss, OptimizeConfig, activation_bytes, make_trunk, optimize
from styleport.optimize_command import resize_long
from styleport.train.losses import gram
from styleport.train.vgg import load_caffe_vgg19
from tests.conftest import PHOTOS
from tests.train.conftest import make_style

NATIVE_BF16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()


@pytest.fixture(scope="module")
def vgg():
    return load_caffe_vgg19()  # the real weights: decoded once, then read from the cache


@pytest.fixture()
def files(tmp_path):
    photo = tmp_path / "photo.png"
    resize_long(Image.open(PHOTOS[0]).convert("RGB"), 48).save(photo)
    return photo, make_style(tmp_path / "stripes.png"), make_style(tmp_path / "other.png", seed=3)


def _tensors(files):
    return [pil_to_tensor(Image.open(p).convert("RGB")) for p in files]


def _style_loss(vgg, config, photo, style, img) -> float:
    loss = GatysLoss(make_trunk(vgg, config.style_layers + config.content_layers, torch.device("cpu"), torch.float32),
                     config)  # fmt: skip
    loss.set_targets(photo, [style], [1.0])
    with torch.no_grad():
        return float(loss(img)[1]["style"])


@pytest.mark.parametrize(
    "optimizer,precision",
    [("lbfgs", "fp32"), ("adam", "fp32"),
     pytest.param("lbfgs", "bf16", marks=pytest.mark.skipif(not NATIVE_BF16, reason="this CPU has no native bf16"))],
)  # fmt: skip
def test_optimization_lowers_the_style_loss(vgg, files, optimizer, precision):
    photo, style, _ = _tensors(files)
    config = OptimizeConfig(steps=20, optimizer=optimizer, precision=precision)
    start = _style_loss(vgg, config, photo, style, photo)
    out, parts = optimize(photo, [style], config, vgg)
    assert out.shape == photo.shape and out.min() >= 0 and out.max() <= 255
    end = _style_loss(vgg, config, photo, style, out)
    # bf16 once stalled L-BFGS at its start (no progress in 30 steps): L-BFGS must at least halve it
    assert end < (0.5 if optimizer == "lbfgs" else 0.75) * start, (start, end)  # measured ~0.43 / ~0.64


def test_blended_targets_are_the_weighted_grams(vgg, files):
    photo, a, b = _tensors(files)
    config = OptimizeConfig()
    loss = GatysLoss(make_trunk(vgg, config.style_layers + config.content_layers, torch.device("cpu"), torch.float32),
                     config)  # fmt: skip
    loss.set_targets(photo, [a, b], config.__class__(blend=(7, 3)).weights_for(2))
    fa, fb = loss.vgg(a, ("relu3_1",)), loss.vgg(b, ("relu3_1",))
    expected = 0.7 * gram(fa["relu3_1"])[0] + 0.3 * gram(fb["relu3_1"])[0]
    torch.testing.assert_close(loss.grams["relu3_1"], expected)


def test_cli_snapshots_keep_colors_and_blend_weights(tmp_path, files, capsys):
    photo, style, other = files
    common = ["--size", "40", "--steps", "4", "--precision", "fp32"]
    out = tmp_path / "out.png"
    assert main(["stylize", "--optimize", str(style), str(photo), "-o", str(out), *common, "--save-every", "2"]) == 0
    assert out.exists() and (tmp_path / "out_0002.png").exists()
    assert not (tmp_path / "out_0004.png").exists()  # the last step is the output itself
    assert Image.open(out).size == resize_long(Image.open(photo), 40).size
    # a blend weight of 0 gives exactly the single style's result; swapping the weights does not
    mixed, swapped = tmp_path / "mixed.png", tmp_path / "swapped.png"
    both = f"{style},{other}"
    assert main(["stylize", "--optimize", both, str(photo), "-o", str(mixed), *common, "--style-weights", "1,0"]) == 0
    assert main(["stylize", "--optimize", both, str(photo), "-o", str(swapped), *common, "--style-weights", "0,1"]) == 0
    assert np.array_equal(np.asarray(Image.open(mixed)), np.asarray(Image.open(out)))
    assert not np.array_equal(np.asarray(Image.open(swapped)), np.asarray(Image.open(out)))
    kept = tmp_path / "kept.png"
    assert main(["stylize", "--optimize", str(style), str(photo), "-o", str(kept), *common, "--keep-colors"]) == 0
    ycc = lambda p: np.asarray(Image.open(p).convert("YCbCr"), dtype=float)  # noqa: E731
    original = np.asarray(resize_long(Image.open(photo).convert("RGB"), 40).convert("YCbCr"), dtype=float)
    assert np.abs(ycc(kept)[..., 1:] - original[..., 1:]).mean() < 2  # the photo's chroma
    assert np.abs(ycc(out)[..., 1:] - original[..., 1:]).mean() > 2  # (without --keep-colors it changes)


def _refused(argv, tmp_path, capsys, code):
    before = sorted(tmp_path.iterdir())
    try:
        got = main(argv)
    except SystemExit as exc:  # argparse refuses at parse time
        got = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert got == code, err
    assert sorted(tmp_path.iterdir()) == before  # nothing written
    return err[-1]


def test_bad_input_is_refused_with_one_line(tmp_path, files, capsys, tiny_model_file):
    photo, style, other = files
    out = str(tmp_path / "o.png")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not a jpeg")
    base = ["stylize", "--optimize", str(style), str(photo), "-o", out]
    assert "broken.jpg" in _refused(["stylize", "--optimize", str(broken), str(photo), "-o", out], tmp_path, capsys, 1)
    assert "--steps" in _refused([*base, "--steps", "0"], tmp_path, capsys, 2)
    assert "--style-weight" in _refused([*base, "--style-weight", "-1"], tmp_path, capsys, 2)
    assert "--save-every" in _refused([*base, "--save-every", "x"], tmp_path, capsys, 2)
    line = _refused(["stylize", "--optimize", f"{style},{other}", str(photo), "-o", out, "--style-weights", "1"],
                    tmp_path, capsys, 2)  # fmt: skip
    assert "1 values for 2 style image(s)" in line
    line = _refused([*base, "--max-memory", "0.00001"], tmp_path, capsys, 2)
    assert line.startswith("styleport: error: ") and "GiB" in line and "--size" in line
    assert "fp16" in _refused([*base, "--precision", "fp16"], tmp_path, capsys, 2)
    line = _refused(["stylize", str(tiny_model_file), str(photo), "-o", out, "--steps", "9", "--init", "noise"],
                    tmp_path, capsys, 2)  # fmt: skip
    assert line.endswith("--steps, --init only apply with --optimize")  # not silently ignored


def test_memory_estimate_grows_with_pixels_and_depth():
    small, big = activation_bytes(500, 500), activation_bytes(1000, 1000)
    assert 3.5 < big / small < 4.5
    assert activation_bytes(500, 500, "relu2_1") < 0.6 * small  # most of it is at full resolution
    assert activation_bytes(1000, 1000) > 2e9  # ~1 MP needs GiBs: the reason for the check
