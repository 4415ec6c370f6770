"""kill -9 at chosen points (styleport.fileutil.KILL_HOOK_ENV: just before the N-th rename onto a
final name): no partial file under a final name, third-party temp files not in the system temp
folder, and a rerun that finishes and leaves no temp folder behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from PIL import Image

from styleport.fileutil import KILL_HOOK_ENV, TEMP_PREFIX
from tests.reliability.conftest import leftovers, snapshot


def _killed(world, args: list[str], at: int, tmp_path) -> subprocess.CompletedProcess:
    """``styleport ARGS`` in a subprocess, SIGKILLed before its ``at``-th rename; TMPDIR is watched."""
    systemp = tmp_path / "system-tmp"
    systemp.mkdir(exist_ok=True)
    env = {**os.environ, KILL_HOOK_ENV: str(at), "TMPDIR": str(systemp), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "styleport", *args], cwd=world, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert list(systemp.iterdir()) == [], "third-party temp files went to the system temp folder"
    return proc


def test_export_killed_before_its_second_artifact_then_rerun(world, cli, tmp_path):
    args = ["export", "model.pth", "--to", "onnx", "--precision", "fp32,fp16", "--no-verify", "-o", "ex"]
    before = snapshot(world)
    _killed(world, args, 2, tmp_path)
    assert sorted(p.name for p in (world / "ex").iterdir() if not p.name.startswith(".")) == [
        "model_fp32.onnx"
    ]  # no record yet
    import onnx

    onnx.checker.check_model(onnx.load(str(world / "ex" / "model_fp32.onnx")))  # complete, not partial
    assert leftovers(world) == [f"ex/{p.name}" for p in (world / "ex").glob(TEMP_PREFIX + "*")] != []
    assert all(snapshot(world).get(k) == v for k, v in before.items())
    run = cli(args)  # the rerun sweeps the dead run's temp folder and replaces its own outputs
    assert run.code == 0 and run.left == [], run.err
    assert sorted(p.name for p in (world / "ex").iterdir() if not p.name.startswith(".")) == [
        "model_fp16.onnx",
        "model_fp16.onnx.styleport.json",
        "model_fp32.onnx",
        "model_fp32.onnx.styleport.json",
    ]


def test_stylize_batch_killed_midway_then_rerun(world, cli, tmp_path):
    args = ["stylize", "model.pth", "photos", "data", "-o", "out", "--format", "png"]
    _killed(world, args, 2, tmp_path)
    done = [p for p in (world / "out").iterdir() if not p.name.startswith(".")]
    assert [p.name for p in done] == ["colosseum.png"]
    Image.open(done[0]).load()  # complete
    assert leftovers(world) != []
    run = cli(args)
    assert run.code == 1 and run.left == [], run.err  # 1: the truncated JPEG in data/ is reported and counted
    names = sorted(p.name for p in (world / "out").iterdir() if not p.name.startswith("."))
    assert names == ["colosseum.png", "gatewayofIndia.png", "hawaMahal.png", "machuPicchu.png", "petra.png"]


@pytest.mark.slow
def test_coreml_export_killed_keeps_coremltools_temp_packages_out_of_the_system_temp(world, cli, tmp_path):
    args = ["export", "model.pth", "--to", "onnx,coreml", "--no-verify", "-o", "ex"]
    _killed(world, args, 2, tmp_path)  # coremltools wrote its temp .mlpackage: not in TMPDIR
    assert any(p.suffix == ".mlpackage" for p in (world / "ex").rglob("*") if TEMP_PREFIX in str(p))
    assert not (world / "ex" / "model_fp16.mlpackage").exists()
    run = cli(args)
    assert run.code == 0 and run.left == [], run.err
    assert (world / "ex" / "model_fp16.mlpackage" / "Manifest.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("at", [1, 3])
def test_training_killed_while_writing_then_resumed(world, tmp_path, at):
    """Killed before the at-th atomic rename (log, loss curve, preview or checkpoint): never a
    partial checkpoint, and ``--resume`` (or a fresh start, with no checkpoint yet) completes."""
    train = ["train", "--style", "painting.png", "--data", "data", "-o", "m.pth", "--vgg-weights", "random",
             "--image-size", "32", "--style-size", "32", "--width", "0.25", "--batch-size", "1", "--workers", "0",
             "--style-layers", "relu1_1,relu2_1", "--content-layers", "relu2_1", "--preview-size", "32",
             "--steps", "4", "--log-every", "1", "--checkpoint-every", "1", "--quiet"]  # fmt: skip
    _killed(world, train, at, tmp_path)
    assert not (world / "m.pth").exists()
    resume = ["--resume"] if (world / "m.run" / "checkpoint.pth").exists() else []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "styleport", *train, *resume], cwd=world, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (world / "m.pth").is_file() and leftovers(world) == []
