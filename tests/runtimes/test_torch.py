"""The torch reference runtime: loads a checkpoint, runs fp32/bf16, reports where it ran."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from styleport import checkpoints
from styleport.errors import UsageError
from styleport.metrics import psnr
from styleport.model import ModelConfig, TransformerNet
from styleport.runtimes.base import RuntimeUnavailable
from styleport.runtimes.torch import TorchRuntime


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.manual_seed(0)
    net = TransformerNet(ModelConfig(width=0.25, num_styles=2))
    with torch.no_grad():
        net.deconv3.conv2d.weight.mul_(40.0)
        net.deconv3.conv2d.bias.fill_(128.0)
    path = tmp_path_factory.mktemp("m") / "duo.pth"
    checkpoints.save(path, net)
    return path


def test_fp32_matches_the_model_and_reports_device(model_path):
    img = np.random.default_rng(0).uniform(0, 255, (37, 53, 3)).astype(np.float32)
    with TorchRuntime().open(model_path, device="cpu") as session:
        out = session.run(img, np.array([0, 1], np.float32))
        assert session.info.device == "cpu" and session.info.runtime == "torch"
    net = checkpoints.load(model_path).build()
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    want = net(x, torch.tensor([[0.0, 1.0]]))[0].permute(1, 2, 0).detach().numpy()
    assert out.shape == (37, 53, 3) and out.dtype == np.float32
    assert np.abs(out - want).max() < 1e-4


def test_bf16_is_close_but_not_identical(model_path):
    img = np.random.default_rng(1).uniform(0, 255, (32, 40, 3)).astype(np.float32)
    rt = TorchRuntime()
    ref = rt.open(model_path, "cpu").run(img)
    low = rt.open(model_path, "cpu", precision="bf16").run(img)
    assert 25 < psnr(ref, low) < 200


def test_unavailable_device_and_bad_options(model_path):
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeUnavailable, match="CUDA is not available"):
            TorchRuntime().open(model_path, device="cuda")
    with pytest.raises(UsageError):
        TorchRuntime().open(model_path, device="tpu")
    with pytest.raises(UsageError):
        TorchRuntime().open(model_path, precision="int8")
