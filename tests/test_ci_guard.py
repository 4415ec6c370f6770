"""The CI guard in tests/conftest.py: under CI=true a skip for missing software fails the run,
whether it happens in a test or at collection (module-level ``pytest.importorskip``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "test_importorskip.py": "import pytest\npytest.importorskip('styleport_no_such_module')\n\ndef test_x():\n    pass\n",
    "test_skip_in_test.py": "import pytest\n\ndef test_x():\n    pytest.skip('onnxruntime is not installed')\n",
    "test_hardware.py": "import pytest\npytest.skip('needs macOS', allow_module_level=True)\n",
}


def run_pytest(folder: Path, ci: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(ROOT)
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--continue-on-collection-errors",
        "-rfEs",
        str(folder),
    ]
    return subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, check=False, timeout=300)


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ci_guard")
    hooks = "pytest_make_collect_report, pytest_runtest_makereport"
    (folder / "conftest.py").write_text(f"from tests.conftest import {hooks}  # noqa: F401\n")
    (folder / "pytest.ini").write_text("[pytest]\n")  # keep the repo's addopts out of the inner run
    for name, text in CASES.items():
        (folder / name).write_text(text)
    return folder


def test_software_skips_fail_under_ci_even_at_collection(suite):
    result = run_pytest(suite, "true")
    assert result.returncode != 0, result.stdout
    out = result.stdout
    assert "test_importorskip.py skipped at collection in CI" in out and "styleport_no_such_module" in out
    assert "FAILED test_skip_in_test.py::test_x" in out and "onnxruntime is not installed" in out
    assert "SKIPPED [1] test_hardware.py" in out  # a hardware skip stays a skip


def test_without_ci_every_skip_stays_a_skip(suite):
    result = run_pytest(suite, None)
    assert result.returncode == 0 and "3 skipped" in result.stdout, result.stdout
