"""The numpy kernel rewrites (styleport/subpixel_kernels.py) against torch's float64 convolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from styleport.subpixel_kernels import space_to_depth_kernels


def phase_conv(x: torch.Tensor, weight: np.ndarray) -> torch.Tensor:
    """SpaceToDepth (ONNX order) -> conv with the rewritten kernels -> DepthToSpace DCR."""
    n, c, h, w = x.shape
    s = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 3, 5, 1, 2, 4).reshape(n, 4 * c, h // 2, w // 2)
    y = F.conv2d(s, torch.from_numpy(space_to_depth_kernels(weight)))  # (N,4C,h/2,w/2) -> (N,4O,h',w')
    o = weight.shape[0]
    y = y.reshape(n, 2, 2, o, *y.shape[-2:]).permute(0, 3, 4, 1, 5, 2)  # (N,a,b,O,h',w') -> (N,O,h',a,w',b)
    return y.reshape(n, o, 2 * y.shape[2], 2 * y.shape[4])


@pytest.mark.parametrize("k, hw", [(9, (16, 16)), (9, (10, 22)), (3, (6, 4)), (1, (2, 2)), (5, (12, 8))])
def test_space_to_depth_conv_equals_the_plain_conv(k, hw):
    rng = np.random.default_rng(k)
    weight = rng.normal(size=(3, 5, k, k))
    x = torch.from_numpy(rng.normal(size=(2, 5, *hw)))  # padded input: even sides
    want = F.conv2d(x, torch.from_numpy(weight))  # (2,5,H,W) -> (2,3,H-k+1,W-k+1)
    got = phase_conv(x, weight)
    assert got.shape == want.shape
    assert float((got - want).abs().max()) < 1e-12


def test_a_misplaced_tap_is_not_equal():
    rng = np.random.default_rng(1)
    weight = rng.normal(size=(3, 4, 9, 9))
    x = torch.from_numpy(rng.normal(size=(1, 4, 14, 14)))
    want = F.conv2d(x, torch.from_numpy(weight))
    shifted = np.roll(weight, 1, axis=-1)  # every tap one column off
    assert float((phase_conv(x, shifted) - want).abs().max()) > 0.1


def test_the_torch_order_is_the_onnx_order_permuted():
    k = space_to_depth_kernels(np.random.default_rng(2).normal(size=(3, 4, 9, 9)))
    crd = space_to_depth_kernels(np.random.default_rng(2).normal(size=(3, 4, 9, 9)), order="CRD")
    dcr_to_crd = lambda c: (c % (len(c) // 4)) * 4 + c // (len(c) // 4)  # (q*C + c) -> (c*4 + q)  # noqa: E731
    rows, cols = dcr_to_crd(np.arange(12)), dcr_to_crd(np.arange(16))
    assert np.array_equal(crd[rows][:, cols], k)


def test_an_even_or_non_square_kernel_or_an_unknown_order_is_refused():
    for shape in [(3, 4, 4, 4), (3, 4, 3, 5)]:
        with pytest.raises(ValueError, match="square odd kernel"):
            space_to_depth_kernels(np.zeros(shape))
    with pytest.raises(ValueError, match="order"):
        space_to_depth_kernels(np.zeros((3, 4, 9, 9)), order="NHWC")
