"""The loop's contracts: bit-exact kill-and-resume, refusal to resume with other settings, precision choice."""

from __future__ import annotations

import math
import signal

import pytest
import torch

from styleport import checkpoints
from styleport.errors import UsageError
from styleport.precision import native_cpu_bf16
from styleport.train.loop import KILL_HOOK_ENV, resolve_precision
from tests.train.conftest import FIXTURE_PHOTOS, TINY, run_cli


def _train(tmp_path, style, name, steps, *extra, env=None, check=True):
    out = tmp_path / f"{name}.pth"
    args = ["train", "--style", str(style), "--data", str(FIXTURE_PHOTOS), "-o", str(out), *TINY,
            "--steps", str(steps), "--checkpoint-every", "10", "--preview-every", "10", "--log-every", "5",
            "--precision", "bf16", "--quiet", *extra]  # fmt: skip
    return out, run_cli(args, env=env, check=check)


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="this CPU has no native bf16")
def test_sigkill_and_resume_is_bit_identical(tmp_path, style_image):
    straight, _ = _train(tmp_path, style_image, "straight", 20)
    killed, proc = _train(tmp_path, style_image, "killed", 20, env={KILL_HOOK_ENV: "10"}, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not killed.exists()
    run_dir = tmp_path / "killed.run"
    assert checkpoints.load(run_dir / "checkpoint.pth").training_state["step"] == 10
    _train(tmp_path, style_image, "killed", 20, "--resume")
    a, b = checkpoints.load(straight).state_dict, checkpoints.load(killed).state_dict
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
    sa = checkpoints.load(tmp_path / "straight.run" / "checkpoint.pth").training_state
    sb = checkpoints.load(run_dir / "checkpoint.pth").training_state
    assert torch.equal(sa["rng"]["torch"], sb["rng"]["torch"])
    assert all(torch.equal(sa["optimizer"]["state"][i]["exp_avg_sq"], sb["optimizer"]["state"][i]["exp_avg_sq"])
               for i in sa["optimizer"]["state"])  # fmt: skip
    steps = [int(line.split(",")[0]) for line in (run_dir / "log.csv").read_text().splitlines()[1:]]
    assert steps == [5, 10, 15, 20]


def _args(tmp_path, style, name, steps, *extra):
    return ["train", "--style", str(style), "--data", str(FIXTURE_PHOTOS), "-o", str(tmp_path / f"{name}.pth"),
            *TINY, "--steps", str(steps), "--quiet", *extra]  # fmt: skip


def test_resume_refuses_other_settings_and_final_models(tmp_path, style_image, cli):
    assert cli(_args(tmp_path, style_image, "m", 2))[0] == 0
    code, err = cli(_args(tmp_path, style_image, "m", 20, "--resume", "--seed", "1"))
    assert code == 2 and "cannot resume with different settings (seed=0" in err
    code, err = cli(_args(tmp_path, style_image, "m2", 20, "--resume", str(tmp_path / "m.pth")))
    assert code == 2 and "has no training state to resume from" in err


def test_time_limit_stops_and_saves(tmp_path, style_image, cli):
    assert cli(_args(tmp_path, style_image, "m", 50, "--time-limit", "0.0001"))[0] == 0
    assert checkpoints.load(tmp_path / "m.pth").metadata["training"]["steps"] == 1
    assert checkpoints.load(tmp_path / "m.run" / "checkpoint.pth").training_state["step"] == 1


def test_time_limit_counts_this_invocation_after_resume(tmp_path, style_image, cli):
    """A resumed run gets its --time-limit afresh: 1e6 s already trained does not stop it at once."""
    assert cli(_args(tmp_path, style_image, "m", 1))[0] == 0
    state_path = tmp_path / "m.run" / "checkpoint.pth"
    state = torch.load(state_path, map_location="cpu", weights_only=True)
    state["training_state"]["elapsed"] = 1e6  # as if the earlier part of the run had trained for 11 days
    torch.save(state, state_path)
    assert cli(_args(tmp_path, style_image, "m", 3, "--resume", "--time-limit", "10"))[0] == 0
    assert checkpoints.load(state_path).training_state["step"] == 3  # cumulative counting stops at step 2


def test_precision_resolution():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32"
    expected = "bf16" if native_cpu_bf16() else "fp32"  # the CPU flags, not torch's (emulating) query
    assert resolve_precision("auto", cpu) == expected
    with pytest.raises(UsageError, match="fp16 needs a CUDA"):
        resolve_precision("fp16", cpu)


def _losses(run_dir) -> list[float]:
    rows = (run_dir / "log.csv").read_text().splitlines()
    return [float(row.split(",")[2]) for row in rows[1:]]


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="this CPU has no native bf16")
def test_compiled_bf16_training_matches_eager(tmp_path, style_image):
    """--compile must train like eager: with torch 2.13's AVX-512 inductor kernels every loss was NaN.

    Width 0.5 (16/32/64 channels): at the tiny default width 0.25 the broken kernels are not used.
    """
    args = ("--width", "0.5", "--log-every", "1", "--preview-every", "100", "--checkpoint-every", "100")
    _train(tmp_path, style_image, "eager", 3, *args)
    _train(tmp_path, style_image, "compiled", 3, "--compile", *args)
    eager, compiled = _losses(tmp_path / "eager.run"), _losses(tmp_path / "compiled.run")
    assert len(eager) == len(compiled) == 3
    assert all(math.isfinite(v) for v in compiled), compiled
    assert compiled == pytest.approx(eager, rel=0.02)  # bf16 rounding differs between fused and eager kernels
