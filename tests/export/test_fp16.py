"""fp16 safety: overflowing activations are rescaled exactly, or the fp16 artifact is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from styleport.export.calibration import calibration_set
from styleport.export.fp16 import FP16_MAX, Fp16RangeError, activation_peaks, make_fp16_safe, style_list


def _images():
    return calibration_set([], (32, 32), count=2)


def _fp16(net, x, sw):
    return net.half()(x.half(), None if sw is None else sw.half()).float()


@pytest.mark.parametrize("styles", [1, 2])
def test_overflowing_net_is_rescaled_exactly(make_net, styles):
    net = make_net(styles)
    with torch.no_grad():  # blow up a conv (pre-norm), the residual stream and a block's inner norm
        net.conv1.conv2d.weight.mul_(3000)
        net.conv1.conv2d.bias.mul_(3000)
        net.in3.weight.mul_(2000)
        net.res2.in1.weight.mul_(5000)
    before = activation_peaks(net, _images(), style_list(net))
    assert max(before.values()) > FP16_MAX  # this net really overflows fp16
    fixed, report = make_fp16_safe(net, _images(), "2 synthetic images")
    assert {"conv1", "stream", "res2.in1"} <= set(report.scales)
    assert all(v <= report.limit for v in report.peak_after.values())
    x = torch.from_numpy(_images()[0]).permute(2, 0, 1)[None]  # (H,W,3) -> (1,3,H,W)
    sw = net.default_style_weights(0)
    with torch.inference_mode():
        ref = net(x, sw)
        assert torch.equal(fixed(x, sw), ref) or float((fixed(x, sw) - ref).abs().max()) < 1e-3  # exact in fp32
        broken = _fp16(net, x, sw)
        repaired = _fp16(fixed, x, sw)
    assert not torch.isfinite(broken).all() or float((broken - ref).abs().max()) > 50  # unfixed fp16 is garbage
    assert float((repaired - ref).abs().max()) < 2.0  # fp16 rounding of an output with std >= 50
    assert report.details()["fp16_rescaled"] == dict(report.scales)


def test_unfixable_output_layer_is_refused(make_net):
    net = make_net(1)
    with torch.no_grad():
        net.deconv3.conv2d.weight.mul_(1e4)  # the image-producing conv: nothing after it to absorb a scale
    with pytest.raises(Fp16RangeError, match="deconv3.*fp16 safety limit"):
        make_fp16_safe(net, _images(), "2 synthetic images")


def test_safe_net_is_untouched(make_net):
    net = make_net(1)
    fixed, report = make_fp16_safe(net, _images())
    assert report.scales == {}
    for a, b in zip(net.parameters(), fixed.parameters(), strict=True):
        assert torch.equal(a, b)
    assert np.isfinite(max(report.peak_before.values()))
