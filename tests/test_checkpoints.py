import io

import numpy as np
import pytest
import torch

from styleport import checkpoints, reference
from styleport.errors import CheckpointError
from styleport.export.calibration import images_at
from styleport.model import ModelConfig, TransformerNet
from tests.conftest import PHOTOS, assert_contrast, make_net, torch_run


def test_roundtrip_keeps_config_metadata_and_output(tmp_path):
    net = make_net(num_styles=2)
    path = checkpoints.save(tmp_path / "m.pth", net, {"style_names": ["wave", "night"]}, training_state={"step": 7})
    ckpt = checkpoints.load(path)
    assert ckpt.config == net.config
    assert ckpt.style_names == ["wave", "night"]
    assert ckpt.training_state == {"step": 7}
    x = torch.rand(1, 3, 24, 20) * 255
    with torch.no_grad():
        assert torch.equal(ckpt.build()(x), net(x))


def test_fp16_checkpoint_is_half_the_size(tmp_path):
    net = TransformerNet(ModelConfig(width=0.5))
    a = checkpoints.save(tmp_path / "a.pth", net).stat().st_size
    b = checkpoints.save(tmp_path / "b.pth", net, dtype=torch.float16).stat().st_size
    assert b < 0.6 * a
    assert checkpoints.load(tmp_path / "b.pth").build().conv1.conv2d.weight.dtype == torch.float32


def test_pytorch_examples_state_dict_loads_with_identical_output(tmp_path):
    """A bare state_dict in pytorch/examples' layout, 2017 style: running stats + DataParallel prefix."""
    net = make_net(width=1.0)
    state = {}
    for key, value in net.state_dict().items():
        state[f"module.{key}"] = value.clone()
        if key.endswith(".weight") and key.split(".")[-2].startswith("in"):
            prefix = key.rsplit(".", 1)[0]
            state[f"module.{prefix}.running_mean"] = torch.zeros_like(value)
            state[f"module.{prefix}.running_var"] = torch.ones_like(value)
    torch.save(state, tmp_path / "udnie.pth")
    ckpt = checkpoints.load(tmp_path / "udnie.pth")
    assert ckpt.source_format == "pytorch-examples"
    assert ckpt.config == ModelConfig()
    # Against the independent numpy reference reading the same file (not styleport's net vs itself).
    (image,) = images_at([PHOTOS[2]], [(33, 47)])
    want = reference.forward_file(tmp_path / "udnie.pth", image)
    got = torch_run(ckpt.build(), image)
    assert np.abs(got - want).max() < 5e-3
    assert_contrast(want, "udnie.pth output")


def test_half_width_state_dict_inferred(tmp_path):
    torch.save(TransformerNet(ModelConfig(width=0.5)).state_dict(), tmp_path / "half.pth")
    assert checkpoints.load(tmp_path / "half.pth").config.width == 0.5


def _bad(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_missing_and_unexpected_keys_are_named(tmp_path):
    state = TransformerNet().state_dict()
    del state["res3.in1.bias"]
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "k.pth")
    with pytest.raises(CheckpointError, match=r"missing keys: res3\.in1\.bias.*unexpected keys: extra\.weight"):
        checkpoints.load(tmp_path / "k.pth")


def test_wrong_shape_is_named(tmp_path):
    state = TransformerNet().state_dict()
    state["deconv1.conv2d.weight"] = torch.zeros(64, 128, 5, 5)
    torch.save(state, tmp_path / "s.pth")
    with pytest.raises(CheckpointError, match="deconv1.conv2d.weight"):
        checkpoints.load(tmp_path / "s.pth")


def test_nan_weights_are_refused_not_stylized_to_black(tmp_path):
    state = TransformerNet().state_dict()
    state["res2.conv1.conv2d.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pth")
    with pytest.raises(CheckpointError, match=r"nan.pth: tensor 'res2.conv1.conv2d.weight' holds NaN or infinite"):
        checkpoints.load(tmp_path / "nan.pth")


def test_truncated_file(tmp_path):
    good = checkpoints.save(tmp_path / "g.pth", make_net()).read_bytes()
    with pytest.raises(CheckpointError, match="truncated|corrupt"):
        checkpoints.load(_bad(tmp_path, "t.pth", good[: len(good) // 2]))


@pytest.mark.parametrize("payload", [b"", b"hello world", b"\x89PNG\r\n\x1a\n" + bytes(100)])
def test_not_a_checkpoint(tmp_path, payload):
    with pytest.raises(CheckpointError, match="x.pth"):
        checkpoints.load(_bad(tmp_path, "x.pth", payload))


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickle_needing_unsafe_loading_is_refused(tmp_path):
    buf = io.BytesIO()
    torch.save({"model": Evil()}, buf)
    with pytest.raises(CheckpointError, match="unsafe"):
        checkpoints.load(_bad(tmp_path, "evil.pth", buf.getvalue()))


def test_other_tensor_dicts_and_missing_file(tmp_path):
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a style network"):
        checkpoints.load(tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="no such file"):
        checkpoints.load(tmp_path / "nope.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        checkpoints.load(tmp_path / "list.pth")


def test_newer_format_version_refused(tmp_path):
    path = checkpoints.save(tmp_path / "m.pth", make_net())
    obj = torch.load(path, weights_only=True)
    obj["format_version"] = 99
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match="newer"):
        checkpoints.load(path)


@pytest.mark.parametrize(("name", "is_dir", "fmt"), [("m_fp16.tflite", False, "TFLite"), ("m_fp16.mlpackage", True, "CoreML"),
                                                     ("m_uint8_tfjs", True, "TF.js"), ("m_fp32.onnx", False, "ONNX")])  # fmt: skip
def test_exported_artifact_is_named_as_such(tmp_path, name, is_dir, fmt):
    path = tmp_path / name
    path.mkdir() if is_dir else path.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match=rf"an exported {fmt} model, not a styleport checkpoint; pass the \.pth"):
        checkpoints.load(path)
