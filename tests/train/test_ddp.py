"""DDP through torchrun on CPU (gloo, 2 processes) matches one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from styleport import checkpoints
from tests.train.conftest import FIXTURE_PHOTOS, TINY, run_cli


@pytest.mark.slow
def test_two_process_gloo_run_matches_single_process(tmp_path, style_image):
    common = ["--style", str(style_image), "--data", str(FIXTURE_PHOTOS), *TINY, "--steps", "4", "--lr", "1e-3",
              "--precision", "fp32", "--log-every", "2", "--preview-every", "4", "--checkpoint-every", "4"]  # fmt: skip
    # TINY sets batch 2; two ranks of batch 1 see the same 2 samples per step as one process of batch 2.
    run_cli(["train", *common, "--batch-size", "2", "-o", str(tmp_path / "single.pth")])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "styleport", "train", *common, "--batch-size", "1", "-o", str(tmp_path / "ddp.pth")],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    single, dist = checkpoints.load(tmp_path / "single.pth"), checkpoints.load(tmp_path / "ddp.pth")
    assert dist.metadata["training"]["world_size"] == 2 and dist.metadata["training"]["steps"] == 4
    # Same samples, same gradients up to fp32 reduction order: logged losses agree closely...
    logs = [(tmp_path / f"{n}.run" / "log.csv").read_text().splitlines()[1:] for n in ("single", "ddp")]
    assert [r.split(",")[0] for r in logs[1]] == ["2", "4"]  # rank 0 alone writes the log
    for a, b in zip(*logs, strict=True):
        ta, tb = float(a.split(",")[2]), float(b.split(",")[2])
        assert abs(ta - tb) <= 1e-4 * ta, (a, b)
    # ... and so do the trained networks' outputs (0..255), to well under one grey level on average. Raw
    # weights are not compared: Adam's first steps are sign-like, so round-off flips the update of
    # near-zero gradient entries.
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        diff = (single.build()(x) - dist.build()(x)).abs()
    assert diff.mean() < 0.25 and diff.max() < 2.0, (diff.mean(), diff.max())
