"""The TensorFlow graph built from the torch weights matches TransformerNet.forward (NHWC, dynamic H/W)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from styleport.export import tfgraph
from tests.conftest import make_net

pytest.importorskip("tensorflow")

SIZES = ((37, 53), (48, 40))  # 37x53: not a multiple of 4 (exercises the in-graph crop)


def torch_reference(net, image_nhwc: np.ndarray, sw: np.ndarray | None) -> np.ndarray:
    x = torch.from_numpy(image_nhwc).permute(0, 3, 1, 2)  # (1,H,W,3) -> (1,3,H,W)
    with torch.inference_mode():
        y = net(x, None if sw is None else torch.from_numpy(sw)[None])  # (S,) -> (1,S)
    return y.permute(0, 2, 3, 1).numpy()  # (1,3,H,W) -> (1,H,W,3)


def random_image(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, size=(1, h, w, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def one_style():
    net = make_net(width=0.25, seed=1)
    return net, tfgraph.build_function(net)


@pytest.fixture(scope="module")
def two_style():
    net = make_net(width=0.25, num_styles=2, seed=2)
    return net, tfgraph.build_function(net)


@pytest.mark.parametrize("size", SIZES)
def test_single_style_graph_matches_torch(one_style, size):
    net, fn = one_style
    image = random_image(*size, seed=size[0])
    want = torch_reference(net, image, None)
    got = tfgraph.run(fn, image)
    assert got.shape == (1, *size, 3)
    assert np.abs(got - want).max() < 5e-3
    assert want.std() > 5  # the comparison is not between two flat images


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("weights", [(1.0, 0.0), (0.0, 1.0), (0.3, 0.7)])
def test_two_style_graph_matches_torch(two_style, size, weights):
    net, fn = two_style
    image = random_image(*size, seed=size[1])
    sw = np.asarray(weights, np.float32)
    got = tfgraph.run(fn, image, sw)
    assert np.abs(got - torch_reference(net, image, sw)).max() < 5e-3


def test_styles_differ_so_the_style_input_is_wired(two_style):
    _, fn = two_style
    image = random_image(32, 32, seed=3)
    a = tfgraph.run(fn, image, np.array([1.0, 0.0], np.float32))
    b = tfgraph.run(fn, image, np.array([0.0, 1.0], np.float32))
    assert np.abs(a - b).max() > 1.0


def test_output_is_clamped_in_graph():
    net = make_net(width=0.25, seed=4)
    with torch.no_grad():
        net.deconv3.conv2d.weight.mul_(6.0)  # push most pixels outside 0..255 (output std ~60 before)
    image = random_image(33, 35, seed=4)
    got = tfgraph.run(tfgraph.build_function(net), image)
    assert got.min() == 0.0 and got.max() == 255.0
    # fp32 op-order rounding of x6 activations: 0.0053 on an AVX2 EPYC (under 5e-3 on a Zen 5);
    # the bound is the fp32 rows' max abs (styleport/tolerances.py)
    assert np.abs(got - torch_reference(net, image, None)).max() < 0.02


def test_per_module_eps_is_honoured():
    """The fp16 range fix rescales a conv by s and its norm's eps by s^2; the graph must follow."""
    net = make_net(width=0.25, seed=5)
    with torch.no_grad():
        net.conv1.conv2d.weight.mul_(1e-3)  # tiny activations: eps now matters
        net.conv1.conv2d.bias.mul_(1e-3)
    net.in1.eps = 1e-2
    image = random_image(32, 40, seed=5)
    got = tfgraph.run(tfgraph.build_function(net), image)
    assert np.abs(got - torch_reference(net, image, None)).max() < 5e-3
    net.in1.eps = 1e-5  # the default would give a visibly different image
    assert np.abs(got - torch_reference(net, image, None)).max() > 0.1


def test_tf_weights_layouts():
    net = make_net(width=0.25, num_styles=3, seed=6)
    w = tfgraph.tf_weights(net)
    kernel, bias = w.conv["conv1"]
    # torch (O,I,kh,kw) = (8,3,9,9) -> tf (kh,kw,I,O) = (9,9,3,8)
    assert kernel.shape == (9, 9, 3, 8) and bias.shape == (8,)
    assert np.array_equal(kernel[:, :, 1, 2], net.conv1.conv2d.weight[2, 1].detach().numpy())
    gamma, beta, eps = w.norm["res2.in1"]
    assert gamma.shape == (3, 32) and beta.shape == (3, 32) and eps == 1e-5
    assert len(w.conv) == 3 + 2 * 5 + 3 and len(w.norm) == 5 + 2 * 5


def test_saved_model_signature(tmp_path, two_style):
    import tensorflow as tf

    net, _ = two_style
    loaded = tf.saved_model.load(str(tfgraph.save_saved_model(net, tmp_path / "sm")))
    sig = loaded.signatures["serving_default"]
    inputs = sig.structured_input_signature[1]
    assert inputs["image"].shape.as_list() == [1, None, None, 3]
    assert inputs["style_weights"].shape.as_list() == [1, 2]
    assert list(sig.structured_outputs) == ["stylized"]
    image = random_image(29, 31, seed=7)
    sw = np.array([[0.5, 0.5]], np.float32)
    out = sig(image=tf.constant(image), style_weights=tf.constant(sw))["stylized"].numpy()
    assert np.abs(out - torch_reference(net, image, sw[0])).max() < 5e-3


def test_io_contract_names_inputs():
    assert [i["name"] for i in tfgraph.io_contract(1)["inputs"]] == ["image"]
    contract = tfgraph.io_contract(4)
    assert contract["inputs"][1] == {
        "name": "style_weights",
        "dtype": "float32",
        "shape": [1, 4],
        "meaning": "style mix",
    }
    assert contract["outputs"][0]["layout"] == "NHWC"
