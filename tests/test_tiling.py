"""Tiled inference must equal the untiled network (styleport/tiling.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from styleport.errors import ImageError, UsageError
from styleport.model import ModelConfig, StyleInstanceNorm, TransformerNet
from styleport.tiling import min_image_side, tiled_forward

PHOTOS = Path(__file__).parent / "fixtures" / "photos"


def lively_net(config: ModelConfig, seed: int = 0) -> TransformerNet:
    """A random-init net whose output spans 0..255 (a plain random net outputs ~0, mostly clamped)."""
    torch.manual_seed(seed)
    model = TransformerNet(config).eval()
    with torch.no_grad():
        for norm in model.modules():
            if isinstance(norm, StyleInstanceNorm):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.normal_(0.0, 0.3)
        probe = smooth_image(64, 64, seed=seed)
        raw = model.forward_raw(probe, model.default_style_weights(0))  # (1,3,64,64)
        mean, std = raw.mean((0, 2, 3)), raw.std((0, 2, 3))  # (3,)
        gain = 60.0 / std
        conv = model.deconv3.conv2d
        conv.weight.mul_(gain[:, None, None, None])
        conv.bias.copy_(128.0 - (mean - conv.bias) * gain)
    return model


def smooth_image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """(1,3,H,W) photo-like 0..255: low-frequency colour fields plus mild noise."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 6, 8, generator=g) * 255.0
    img = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)
    return (img + torch.randn(1, 3, h, w, generator=g) * 8.0).clamp(0.0, 255.0)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return math.inf if mse == 0.0 else 10.0 * math.log10(255.0**2 / mse)


def reference(model: TransformerNet, x: torch.Tensor, sw: torch.Tensor | None = None) -> torch.Tensor:
    with torch.no_grad():
        ref = model(x, sw)
    unclamped = ((ref > 0.0) & (ref < 255.0)).float().mean()
    assert float(ref.std()) > 20.0 and float(unclamped) > 0.7, "test net output is degenerate"
    return ref


@pytest.mark.parametrize(
    ("h", "w", "tile"),
    [
        (97, 131, 32),  # odd, not a multiple of 4, many tiles with ragged last ones
        (48, 64, 512),  # tile larger than the image: one tile per layer
        (5, 7, 32),  # the smallest image the network accepts
        (33, 250, 40),  # a strip; tile not a multiple of 4
    ],
)
def test_matches_untiled(h: int, w: int, tile: int) -> None:
    model = lively_net(ModelConfig(width=0.25))
    x = smooth_image(h, w, seed=h + w)
    ref = reference(model, x)
    out = tiled_forward(model, x, tile=tile)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    assert float((out - ref).abs().max()) < 0.01
    assert psnr(out, ref) > 60.0


def test_full_width_net_matches_untiled() -> None:
    model = lively_net(ModelConfig(width=1.0), seed=1)
    x = smooth_image(70, 90, seed=3)
    ref = reference(model, x)
    out = tiled_forward(model, x, tile=32)
    assert float((out - ref).abs().max()) < 0.01
    # against float64 ground truth, tiling is as exact as the untiled fp32 network (rounding only)
    with torch.no_grad():
        truth = model.double()(x.double())
    assert float((out - truth).abs().max()) < 3.0 * float((ref - truth).abs().max()) + 1e-4


def test_multi_style_mixing_and_batch() -> None:
    model = lively_net(ModelConfig(width=0.25, num_styles=3), seed=2)
    x = torch.cat([smooth_image(45, 70, seed=4), smooth_image(45, 70, seed=5)])  # (2,3,45,70)
    sw = torch.tensor([[0.2, 0.5, 0.3], [0.0, 0.0, 1.0]])  # (B,S)
    ref = reference(model, x, sw)
    out = tiled_forward(model, x, sw, tile=32)
    assert float((out - ref).abs().max()) < 0.01
    # the default (style 0) and a 1-D weight vector follow model.forward's rules too
    one = x[:1]
    assert float((tiled_forward(model, one, tile=32) - reference(model, one)).abs().max()) < 0.01
    s1 = torch.tensor([0.0, 1.0, 0.0])
    assert float((tiled_forward(model, one, s1, tile=32) - reference(model, one, s1)).abs().max()) < 0.01


def test_reduced_precision_options_stay_close() -> None:
    model = lively_net(ModelConfig(width=0.25), seed=3)
    x = smooth_image(64, 80, seed=6)
    ref = reference(model, x)
    fp16_store = tiled_forward(model, x, tile=32, storage_dtype=torch.float16)
    bf16_compute = tiled_forward(model, x, tile=32, dtype=torch.bfloat16)
    assert psnr(fp16_store, ref) > 40.0
    assert psnr(bf16_compute, ref) > 30.0
    assert psnr(bf16_compute, ref) < 60.0  # the option really changed the arithmetic


@pytest.mark.parametrize(("h", "w"), [(1, 1), (4, 9), (9, 3)])
def test_too_small_image_is_a_clear_error(h: int, w: int) -> None:
    model = TransformerNet(ModelConfig(width=0.25)).eval()
    x = torch.rand(1, 3, h, w) * 255.0
    assert min_image_side(model) == 5
    with pytest.raises(ImageError, match=f"image is {w}x{h} pixels: the network needs at least 5x5"):
        tiled_forward(model, x, tile=32)
    with pytest.raises(RuntimeError, match="Padding size"), torch.no_grad():
        model(x)  # the untiled network cannot run it either


@pytest.mark.parametrize("tile", [0, 16, 31, 32.0, True, "64"])
def test_bad_tile_is_a_usage_error(tile: object) -> None:
    model = TransformerNet(ModelConfig(width=0.25)).eval()
    with pytest.raises(UsageError, match="--tile must be an integer >= 32"):
        tiled_forward(model, torch.rand(1, 3, 40, 40) * 255.0, tile=tile)  # type: ignore[arg-type]


def test_bad_dtype_is_a_usage_error() -> None:
    model = TransformerNet(ModelConfig(width=0.25)).eval()
    with pytest.raises(UsageError, match="storage dtype must be one of"):
        tiled_forward(model, torch.rand(1, 3, 40, 40) * 255.0, storage_dtype=torch.int8)


def _photo_1024x768() -> torch.Tensor:
    """(1,3,768,1024): a fixture photo upscaled, else a smooth synthetic image."""
    photos = sorted(PHOTOS.glob("*.jpg"))
    if not photos:
        return smooth_image(768, 1024, seed=7)
    from PIL import Image

    from styleport.images import load_image, pil_to_tensor

    rgb = load_image(photos[0]).rgb.resize((1024, 768), Image.Resampling.BICUBIC)
    return pil_to_tensor(rgb)  # (1,3,768,1024)


def test_must_show_tiled_vs_untiled_psnr_1024x768() -> None:
    """Issue 2's must-show: tiled (tile 256) vs untiled on a 1024x768 photo, >= 40 dB."""
    model = lively_net(ModelConfig(width=1.0), seed=4)
    x = _photo_1024x768()
    assert x.shape == (1, 3, 768, 1024)
    ref = reference(model, x)
    out = tiled_forward(model, x, tile=256)
    value, max_abs = psnr(out, ref), float((out - ref).abs().max())
    print(f"\ntiled (256) vs untiled, 1024x768, width 1.0: PSNR {value:.1f} dB, max abs {max_abs:.2e}")
    assert value >= 40.0


@pytest.mark.gpu
def test_cuda_tiles_match_cpu_reference() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    model = lively_net(ModelConfig(width=0.25))
    x = smooth_image(97, 131)
    ref = reference(model, x)
    out = tiled_forward(model, x, tile=64, device="cuda")  # model on CPU, tiles on the GPU
    assert out.device.type == "cpu"
    assert psnr(out, ref) > 50.0
