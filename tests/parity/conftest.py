"""Shared parity fixtures: one tiny image-like network and one export folder for the whole session.

Exports are the slow part (TensorFlow and coremltools conversions), so every artifact is exported
once per session into ``parity_exports`` and reused by each test through ``--export-dir``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from styleport import checkpoints
from styleport.testing import image_like_net

PHOTOS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "photos").glob("*.jpg"))
SIZE = (45, 38)  # (H, W): neither a multiple of 4, so the crop of the padded output is exercised


@pytest.fixture(scope="session")
def parity_photo() -> Path:
    assert PHOTOS, "tests/fixtures/photos is empty"
    return PHOTOS[0]


@pytest.fixture(scope="session")
def parity_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("parity-model") / "tiny.pth"
    return checkpoints.save(path, image_like_net(), {"style_names": ["tiny"]})


@pytest.fixture(scope="session")
def parity_exports(tmp_path_factory) -> Path:
    """Artifacts of ``parity_checkpoint``, exported on first use and shared by every test."""
    return tmp_path_factory.mktemp("parity-exports")


@pytest.fixture(scope="session")
def exported(parity_checkpoint, parity_exports, parity_photo):
    """``exported("onnx", "fp32")`` -> the shared artifact's path (exported on first request)."""
    from styleport.export import base as exporters
    from styleport.parity.run import Target, obtain
    from styleport.precision import Precision
    from styleport.tolerances import lookup

    checkpoint = checkpoints.load(parity_checkpoint)
    model = checkpoint.build("cpu")

    def get(fmt: str, precision: str) -> Path:
        p = Precision(precision)
        target = Target(fmt, p, exporters.get(fmt).runtime, lookup(fmt, p))
        # calibrated on the bundled calibration set, as `styleport parity` does: its provenance then
        # matches and the CLI tests reuse these files through --export-dir
        path, _, _ = obtain(checkpoint, model, target, parity_exports, (), (SIZE,))
        return path

    return get
