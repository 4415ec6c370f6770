from __future__ import annotations

import pytest
import torch

from styleport.train.losses import LossConfig, PerceptualLoss, gram, total_variation
from styleport.train.vgg import VGGFeatures, random_vgg


def test_gram_matches_definition():
    f = torch.randn(2, 3, 4, 5)
    g = gram(f)
    manual = torch.einsum("bchw,bdhw->bcd", f, f) / (3 * 4 * 5)
    assert g.shape == (2, 3, 3) and torch.allclose(g, manual, atol=1e-6)


def test_total_variation_of_constant_is_zero():
    assert total_variation(torch.full((1, 3, 8, 8), 7.0)) == 0
    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 3, 8, 8)
    assert torch.isclose(total_variation(ramp), torch.tensor(1.0))


def _loss(**kw) -> PerceptualLoss:
    trunk = VGGFeatures(random_vgg(), "relu2_1")
    cfg = LossConfig(content_layers=("relu1_2",), style_layers=("relu1_1", "relu2_1"), **kw)
    return PerceptualLoss(trunk, cfg)


def test_style_loss_zero_on_own_style_and_per_sample_targets():
    torch.manual_seed(0)
    a, b = torch.rand(1, 3, 24, 24) * 255, torch.rand(1, 3, 24, 24) * 100
    loss = _loss(tv_weight=1.0)
    loss.set_styles([a, b])
    assert loss.targets["relu1_1"].shape == (2, 64, 64)
    x = torch.cat([a, b])  # sample 0 is style a, sample 1 style b
    _, parts = loss(x, x, torch.tensor([0, 1]))
    assert parts["style"] < 1e-6 and parts["content"] == 0
    _, swapped = loss(x, x, torch.tensor([1, 0]))
    assert swapped["style"] > 1.0 and swapped["tv"] > 0


def test_gradients_flow_to_the_stylized_image_only():
    loss = _loss()
    loss.set_styles([torch.rand(1, 3, 16, 16) * 255])
    x = torch.rand(2, 3, 16, 16) * 255
    y = (x + 10).requires_grad_()
    total, _ = loss(y, x, torch.zeros(2, dtype=torch.long))
    total.backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.vgg.parameters())


def test_bf16_loss_network_is_close_to_fp32():
    torch.manual_seed(1)
    style, x = torch.rand(1, 3, 32, 32) * 255, torch.rand(2, 3, 32, 32) * 255
    y = x.flip(-1)
    values = []
    for dtype in (torch.float32, torch.bfloat16):
        trunk = VGGFeatures(random_vgg(), "relu2_1").to(dtype)
        loss = PerceptualLoss(
            trunk, LossConfig(content_layers=("relu1_2",), style_layers=("relu1_1", "relu2_1")), dtype
        )
        loss.set_styles([style])
        values.append(loss(y, x, torch.zeros(2, dtype=torch.long))[0].item())
    assert abs(values[1] - values[0]) / values[0] < 0.05


def test_losses_are_relative_errors_independent_of_feature_scale():
    """Scaling every conv of a bias-free VGG by k scales features by k^depth; relative errors do not move."""
    torch.manual_seed(2)
    style, x = torch.rand(1, 3, 24, 24) * 255, torch.rand(2, 3, 24, 24) * 255
    y = x.flip(-1) * 0.7
    values = []
    for k in (1.0, 3.0):
        weights = random_vgg()
        weights = type(weights)(weights.arch, {n: t * k for n, t in weights.state.items()}, "caffe", "scaled")
        loss = PerceptualLoss(VGGFeatures(weights, "relu2_1"), LossConfig(("relu1_2",), ("relu1_1", "relu2_1")))
        loss.set_styles([style])
        values.append(loss(y, x, torch.zeros(2, dtype=torch.long))[1])
    for key in ("content", "style"):
        assert torch.isclose(values[0][key], values[1][key], rtol=1e-3), key
    assert 0.01 < values[0]["style"] < 100 and 0.01 < values[0]["content"] < 100


def test_style_layer_weights_scale_each_layer_term():
    """A per-layer weight multiplies exactly that layer's relative Gram error (and is validated)."""
    layers = ("relu1_1", "relu2_1")
    for bad in ((1.0,), (1.0, float("nan")), (1.0, -1.0)):
        with pytest.raises(ValueError):
            LossConfig(style_layers=layers, style_layer_weights=bad)
    torch.manual_seed(0)
    style, x = torch.rand(1, 3, 24, 24) * 255, torch.rand(1, 3, 24, 24) * 255
    per_layer = []
    for w in ((1.0, 0.0), (0.0, 1.0), (0.5, 3.0)):
        loss = _loss(style_layer_weights=w)
        loss.set_styles([style])
        per_layer.append(float(loss(x, x, torch.zeros(1, dtype=torch.long))[1]["style"]))
    relu1, relu2 = per_layer[0], per_layer[1]
    assert relu1 > 0 and relu2 > 0
    assert per_layer[2] == pytest.approx(0.5 * relu1 + 3.0 * relu2, rel=1e-5)
