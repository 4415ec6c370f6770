"""Shared fixtures: tiny random-init networks and the committed photo fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from styleport import checkpoints
from styleport.model import TransformerNet
from styleport.testing import stand_in_net

FIXTURES = Path(__file__).parent / "fixtures"
PHOTOS = sorted((FIXTURES / "photos").glob("*.jpg"))
MIN_STD = 40.0  # assert_contrast: below this a reference output is too flat to test against


def make_net(width: float = 0.25, num_styles: int = 1, seed: int = 0) -> TransformerNet:
    """A random-init network with random norm affines and image-like output (styleport.testing)."""
    return stand_in_net(width, num_styles, seed)


def torch_run(net: TransformerNet, image, sw=None):
    """The torch reference on one (H,W,3) float32 array (+ (S,) style weights) -> (H,W,3)."""
    x = torch.from_numpy(image).permute(2, 0, 1)[None]  # (H,W,3) -> (1,3,H,W)
    with torch.inference_mode():
        y = net(x, None if sw is None else torch.from_numpy(sw)[None])
    return y[0].permute(1, 2, 0).numpy()  # (1,3,H,W) -> (H,W,3)


def random_image(h: int, w: int, seed: int = 0):
    """(H,W,3) float32 uniform 0..255."""
    return np.random.default_rng(seed).uniform(0, 255, size=(h, w, 3)).astype(np.float32)


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


def assert_contrast(reference: np.ndarray, what: str = "reference output", min_std: float = MIN_STD) -> None:
    """Fail a comparison whose reference is too flat to mean anything.

    Against a flat reference a lossy tolerance row cannot tell a right artifact from garbage (with
    the old stand-in nets, std 7-13, a blurred output passed palette4 and constant grey nearly
    passed 30 dB). Trained networks measure std 55-62 on the fixture photos; the stand-ins >= 53.
    """
    std = float(np.std(reference))
    assert std >= min_std, f"{what} is degenerate (std {std:.1f} < {min_std}): the comparison would prove nothing"


# In CI (CI=true) a test may only skip for hardware this machine cannot have; a skip because a
# runtime, package or browser is missing means the set-up is broken and must fail the run. Both
# kinds of skip are caught: in a test (setup/call/teardown reports) and at collection (a module-
# level ``pytest.importorskip`` or ``pytest.skip(allow_module_level=True)`` skips the whole file).
HARDWARE_SKIPS = ("CUDA", "macOS", "no native bf16", "non-macOS path")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true")


def _software_skip(report) -> str | None:
    """The skip reason when ``report`` is a skip CI must not accept, else None."""
    if not _in_ci() or not report.skipped or hasattr(report, "wasxfail"):
        return None
    reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return None if any(word in reason for word in HARDWARE_SKIPS) else reason


def _fail_software_skip(report, what: str = "skipped") -> None:
    """Turn a CI skip for missing software (test or collection phase) into a failure."""
    reason = _software_skip(report)
    if reason is not None:
        report.outcome = "failed"
        report.longrepr = f"{what} in CI, where every software dependency must be installed: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_software_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_software_skip(outcome.get_result(), f"{collector.nodeid} skipped at collection")
