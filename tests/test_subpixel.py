import pytest
import torch
import torch.nn.functional as F

from styleport.model import ConvLayer
from styleport.subpixel import PhaseOutputConv, SubpixelConv, fuse, is_fused, subpixel_bias, subpixel_weight
from tests.conftest import make_net


def _layer(c_in: int = 6, c_out: int = 5, seed: int = 0) -> ConvLayer:
    torch.manual_seed(seed)
    layer = ConvLayer(c_in, c_out, 3, upsample=2)
    with torch.no_grad():
        layer.conv2d.bias.uniform_(-1, 1)
    return layer.eval()


# 1x1 and 1xN: the replicated row is the only row; odd sizes: the far border is an odd row
@pytest.mark.parametrize("hw", [(1, 1), (1, 4), (2, 3), (5, 7), (9, 16)])
def test_subpixel_conv_equals_upsample_reflect_conv(hw):
    layer = _layer()
    # a ramp plus noise: borders differ from their neighbours, so a wrong pad shows at the edges
    x = torch.randn(2, 6, *hw) + torch.arange(hw[0] * hw[1], dtype=torch.float32).reshape(hw)
    with torch.no_grad():
        want = layer(x)
        got = SubpixelConv(layer)(x)
    assert got.shape == want.shape == (2, 5, 2 * hw[0], 2 * hw[1])
    assert (got - want).abs().max().item() < 1e-4


def test_borders_need_replicate_padding():
    """The derivation is only exact with the replicated border row; zero padding would differ there."""
    layer = _layer()
    x = torch.rand(1, 6, 6, 6) + 1.0
    with torch.no_grad():
        want = layer(x)
        y = F.conv2d(F.pad(x, (1, 1, 1, 1)), subpixel_weight(layer.conv2d.weight), subpixel_bias(layer.conv2d.bias))
        wrong = F.pixel_shuffle(y, 2)[:, :, 1:-1, 1:-1]
    assert (wrong - want)[:, :, 1:-1, 1:-1].abs().max() < 1e-4  # interior agrees
    assert (wrong - want).abs().max() > 1e-2  # the border does not


def test_dcr_order_matches_tensorflow_depth_to_space():
    """DCR kernels + TF's depth_to_space (emulated: channel (qy*2+qx)*O + o) give the same output."""
    layer = _layer(4, 3, seed=1)
    x = torch.randn(1, 4, 5, 6)
    with torch.no_grad():
        y = F.conv2d(
            F.pad(x, (1, 1, 1, 1), mode="replicate"),
            subpixel_weight(layer.conv2d.weight, order="DCR"),
            subpixel_bias(layer.conv2d.bias, order="DCR"),
        )  # (1,4*O,h+1,w+1)
        n, c, h, w = y.shape
        # (1,(qy,qx,O),h,w) -> (1,O,h,qy,w,qx) -> (1,O,2h,2w)
        d = y.reshape(n, 2, 2, c // 4, h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, c // 4, 2 * h, 2 * w)
        got = d[:, :, 1:-1, 1:-1]
        assert (got - layer(x)).abs().max() < 1e-4


def test_fused_network_equals_network_and_leaves_it_alone():
    net = make_net(num_styles=2).eval()
    keys = list(net.state_dict())
    fast = fuse(net)
    assert is_fused(fast) and not is_fused(net)
    assert list(net.state_dict()) == keys  # the original (and its checkpoint keys) unchanged
    x = torch.rand(1, 3, 37, 53) * 255
    sw = torch.tensor([[0.3, 0.7]])
    with torch.no_grad():
        assert (fast(x, sw) - net(x, sw)).abs().max() < 1e-3  # output 0..255


def test_output_phases_equal_the_network_and_exports_do_not_take_them():
    net = make_net(num_styles=2).eval()
    assert isinstance(fuse(net).deconv3, ConvLayer)  # the exporters' form: parity rows measured on it
    fast = fuse(net, output_phases=True)
    assert isinstance(fast.deconv3, PhaseOutputConv) and isinstance(net.deconv3, ConvLayer)
    sw = torch.tensor([[0.3, 0.7]])
    for hw in [(37, 53), (8, 8), (9, 11)]:
        x = torch.rand(1, 3, *hw) * 255
        with torch.no_grad():
            assert (fast(x, sw) - net(x, sw)).abs().max() < 1e-3, hw


@pytest.mark.parametrize("hw", [(12, 16), (13, 17), (5, 6), (6, 5)])
def test_phase_output_conv_equals_the_layer_at_even_and_odd_sizes(hw):
    torch.manual_seed(1)
    layer = ConvLayer(6, 3, 9).eval()
    x = torch.randn(2, 6, *hw) + torch.arange(hw[0] * hw[1], dtype=torch.float32).reshape(hw) / 10
    with torch.no_grad():
        want, got = layer(x), PhaseOutputConv(layer)(x)
    assert got.shape == want.shape
    assert (got - want).abs().max() < 1e-4
    with torch.no_grad():
        layer.conv2d.weight[:, :, 4, 0] *= 1.05  # one column of taps: the rewrite must carry it
        assert (PhaseOutputConv(layer)(x) - got).abs().max() > 1e-3


def test_fused_network_bf16_close_to_fp32():
    net = make_net().eval()
    x = torch.rand(1, 3, 40, 48) * 255
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        y = fuse(net, output_phases=True)(x)
    with torch.no_grad():
        ref = net(x)
    assert (y.float() - ref).abs().mean() < 2.0


def test_rejects_other_layers():
    with pytest.raises(ValueError):
        SubpixelConv(ConvLayer(3, 3, 9))
    with pytest.raises(ValueError):
        subpixel_weight(torch.zeros(2, 2, 5, 5))
    with pytest.raises(ValueError):
        PhaseOutputConv(ConvLayer(3, 3, 3, stride=2))
