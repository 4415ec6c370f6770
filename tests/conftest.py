"""Shared fixtures: tiny random-init networks and the committed photo fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from styleport import checkpoints
from styleport.model import ModelConfig, TransformerNet
from styleport.testing import stand_in_net

FIXTURES = Path(__file__).parent / "fixtures"
PHOTOS = sorted((FIXTURES / "photos").glob("*.jpg"))


def make_net(width: float = 0.25, num_styles: int = 1, seed: int = 0) -> TransformerNet:
    """A random-init network with random norm affines and image-like output (styleport.testing)."""
    return stand_in_net(width, num_styles, seed)


def image_like_net(num_styles: int = 1, seed: int = 0) -> TransformerNet:
    """Width 0.25, random init, with random norm affines and an output spanning 0..255.

    A fresh TransformerNet outputs ~0, which the clamp turns black: every export would match.
    """
    torch.manual_seed(seed)
    net = TransformerNet(ModelConfig(width=0.25, num_styles=num_styles)).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("in") or ".in" in name:
                p.add_(torch.randn_like(p) * 0.3)
        net.deconv3.conv2d.weight.mul_(40.0)
        net.deconv3.conv2d.bias.fill_(128.0)
    return net


@pytest.fixture(scope="session")
def photos() -> list[Path]:
    assert PHOTOS, "tests/fixtures/photos is empty"
    return PHOTOS


@pytest.fixture()
def tiny_model_file(tmp_path) -> Path:
    return checkpoints.save(tmp_path / "tiny.pth", make_net(), {"style_names": ["tiny"]})


@pytest.fixture()
def two_style_model_file(tmp_path) -> Path:
    return checkpoints.save(tmp_path / "two.pth", make_net(num_styles=2), {"style_names": ["a", "b"]})


# In CI (CI=true) a test may only skip for hardware this machine cannot have; a skip because a
# runtime, package or browser is missing means the set-up is broken and must fail the run.
HARDWARE_SKIPS = ("CUDA", "macOS", "no native bf16", "non-macOS path")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI", "").lower() not in ("1", "true") or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if not any(word in reason for word in HARDWARE_SKIPS):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every software dependency must be installed: {reason}"
