"""Shared parity fixtures: the bundled trained great_wave network and one export folder for the session.

The matrix verifies every format x precision of a real trained network in the default run (the
tolerance rows are set from trained networks; random stand-ins are far more sensitive to weight
changes, see styleport/tolerances.py). Exports are the slow part (TensorFlow and coremltools
conversions), so every artifact is exported once per session into ``parity_exports`` and reused by
each test through ``--export-dir``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PHOTOS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "photos").glob("*.jpg"))
BUNDLED = Path(__file__).resolve().parents[2] / "styleport" / "data" / "models" / "great_wave.pth"
SIZE = (37, 53)  # (H, W): neither a multiple of 4, so the crop of the padded output is exercised


@pytest.fixture(scope="session")
def parity_photo() -> Path:
    assert PHOTOS, "tests/fixtures/photos is empty"
    return PHOTOS[0]


@pytest.fixture(scope="session")
def parity_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("parity-model") / BUNDLED.name
    shutil.copy2(BUNDLED, path)  # a private copy: tests write artifacts next to nothing of the package
    return path


@pytest.fixture(scope="session")
def parity_exports(tmp_path_factory) -> Path:
    """Artifacts of ``parity_checkpoint``, exported on first use and shared by every test."""
    return tmp_path_factory.mktemp("parity-exports")


@pytest.fixture(scope="session")
def exported(parity_checkpoint, parity_exports, parity_photo):
    """``exported("onnx", "fp32")`` -> the shared artifact's path (exported on first request)."""
    from styleport import checkpoints
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
