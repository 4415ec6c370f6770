import pytest
import torch
import torch.nn.functional as F

from styleport.model import ModelConfig, TransformerNet, gflops, output_size, parameter_count
from tests.conftest import make_net


def test_paper_width_matches_pytorch_examples_layout():
    net = TransformerNet()
    keys = list(net.state_dict())
    assert len(keys) == 62
    assert parameter_count(net) == 1_679_235
    assert keys[:4] == ["conv1.conv2d.weight", "conv1.conv2d.bias", "in1.weight", "in1.bias"]
    assert "res1.conv1.conv2d.weight" in keys and "res5.in2.bias" in keys
    assert keys[-2:] == ["deconv3.conv2d.weight", "deconv3.conv2d.bias"]


def _reference_forward(net: TransformerNet, x: torch.Tensor) -> torch.Tensor:
    """pytorch/examples' forward written out with nn.InstanceNorm2d / ReflectionPad2d modules."""

    def conv(layer, t):
        if layer.upsample > 1:
            t = F.interpolate(t, scale_factor=layer.upsample, mode="nearest")
        return layer.conv2d(torch.nn.ReflectionPad2d(layer.kernel // 2)(t))

    def norm(mod, t):
        m = torch.nn.InstanceNorm2d(t.shape[1], affine=True)
        m.load_state_dict({"weight": mod.weight, "bias": mod.bias})
        return m(t)

    y = F.relu(norm(net.in1, conv(net.conv1, x)))
    y = F.relu(norm(net.in2, conv(net.conv2, y)))
    y = F.relu(norm(net.in3, conv(net.conv3, y)))
    for b in net.residual_blocks():
        y = y + norm(b.in2, conv(b.conv2, F.relu(norm(b.in1, conv(b.conv1, y)))))
    y = F.relu(norm(net.in4, conv(net.deconv1, y)))
    y = F.relu(norm(net.in5, conv(net.deconv2, y)))
    return conv(net.deconv3, y)


@pytest.mark.parametrize("hw", [(32, 32), (37, 53), (5, 5), (5, 9)])
def test_output_size_equals_input_and_matches_reference(hw):
    net = make_net()
    x = torch.rand(1, 3, *hw) * 255
    with torch.no_grad():
        raw = net.forward_raw(x)
        out = net(x)
        ref = _reference_forward(net, x)
    assert raw.shape[-2:] == output_size(*hw)
    assert out.shape == x.shape
    assert torch.allclose(raw, ref, atol=1e-4)
    assert torch.equal(out, raw[:, :, : hw[0], : hw[1]].clamp(0, 255))


def test_width_multiplier_channels():
    assert ModelConfig(width=0.5).channels == (16, 32, 64)
    assert parameter_count(TransformerNet(ModelConfig(width=0.5))) < 1_679_235 / 3


def test_multi_style_mixing_is_linear_in_norm_parameters():
    net = make_net(num_styles=2)
    x = torch.rand(1, 3, 40, 48) * 255
    with torch.no_grad():
        a = net(x, torch.tensor([[1.0, 0.0]]))
        b = net(x, torch.tensor([[0.0, 1.0]]))
        mixed = net(x, torch.tensor([[0.5, 0.5]]))
        default = net(x)
    assert torch.equal(default, a)
    assert (a - b).abs().mean() > 1.0  # the two styles really differ
    assert not torch.allclose(mixed, a) and not torch.allclose(mixed, b)
    with pytest.raises(ValueError, match="2 entries"):
        net(x, torch.tensor([[1.0, 0.0, 0.0]]))


def test_gflops_counts_paper_network():
    net = TransformerNet()
    g256 = gflops(net, 256, 256)
    assert 15 < g256 < 25  # ~20 GFLOPs (multiply-add = 2) at 256x256 per the paper's net
    assert gflops(net, 1080, 1920) == pytest.approx(g256 * 1080 * 1920 / 256**2, rel=0.02)


def test_invalid_config_rejected():
    with pytest.raises(ValueError):
        ModelConfig(width=0)
    with pytest.raises(ValueError):
        ModelConfig(arch="vgg")
