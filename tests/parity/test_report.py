"""Report writers on a hand-built ParityRun: no runtimes, so every branch is cheap to check."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from PIL import Image

from styleport.metrics import compare
from styleport.parity import report
from styleport.parity.latency import Latency
from styleport.parity.run import ArtifactResult, CaseResult, ParityConfig, ParityRun, Reference, Sample
from styleport.precision import Precision
from styleport.runtimes.base import RunInfo
from styleport.tolerances import Tolerance


def fake_run() -> ParityRun:
    rng = np.random.default_rng(0)
    ref = rng.uniform(0, 255, size=(20, 24, 3)).astype(np.float32)
    noisy = ref + rng.normal(0, 3, size=ref.shape).astype(np.float32)
    tol = Tolerance("fmt", Precision.FP32, 40.0, 1.0, "test row")
    lat = Latency(12.0, 15.0, 11.0, 16.0, 3, (20, 24))
    same, off = compare(ref, ref), compare(ref, noisy)
    good = ArtifactResult(
        "fmt", Precision.FP32, "rt", "passed", tol, Path("m_fp32.x"), 2048, "exported",
        (CaseResult("photo", (20, 24), "", same, True),), lat, RunInfo("rt", "cpu", "kernels", 2), "rt / kernels",
        sample=Sample("photo_20x24", ref, ref),
    )  # fmt: skip
    bad = ArtifactResult(
        "fmt", Precision.INT8, "rt", "failed", tol, Path("m_int8.x"), 1024, "existing",
        (CaseResult("photo", (20, 24), "", off, False),), lat, RunInfo("rt", "cpu"), "rt / cpu",
        sample=Sample("photo_20x24", ref, noisy),
    )  # fmt: skip
    skipped = ArtifactResult("other", Precision.FP16, "gone", "skipped", tol, reason="gone is not installed (pip x)")
    reference = Reference("torch fp32 on cpu (2 threads)", "cpu", lat)
    return ParityRun(
        Path("m.pth"), ParityConfig(sizes=((20, 24),)), reference, (Path("photo.jpg"),), (good, bad, skipped)
    )


def strict_json(text: str):
    def no_constants(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=no_constants)


def test_write_all_three_reports(tmp_path):
    run = fake_run()
    paths = report.write(run, tmp_path / "rep")
    assert [p.name for p in paths] == ["report.json", "report.md", "report.html"]

    data = strict_json(paths[0].read_text())  # inf PSNR (identical output) is written as a string
    assert data["passed"] is False and data["counts"] == {"passed": 1, "failed": 1, "skipped": 1}
    good, bad, skipped = data["results"]
    assert good["psnr_min"] == "inf" and good["max_abs"] == 0.0 and good["run_info"]["threads"] == 2
    assert bad["status"] == "failed" and bad["psnr_min"] < 40 and bad["cases"][0]["passed"] is False
    assert skipped["status"] == "skipped" and skipped["max_abs"] is None and "not installed" in skipped["reason"]

    md = paths[1].read_text()
    rows = [ln for ln in md.splitlines() if ln.startswith("| fmt") or ln.startswith("| other")]
    assert len(rows) == 3
    assert "| PASS |" in rows[0] and "| FAIL |" in rows[1] and "| SKIPPED |" in rows[2]
    assert "1 passed, 1 failed, 1 skipped" in md and "- FAILED fmt int8 (m_int8.x)" in md

    html = paths[2].read_text()
    pictures = re.findall(r"src='([^']+)'", html)
    assert len(pictures) == 6 and all((tmp_path / "rep" / p).is_file() for p in pictures)
    assert len(set(pictures)) == 5  # both artifacts share one reference picture
    for picture in pictures:
        with Image.open(tmp_path / "rep" / picture) as img:
            assert img.format == "PNG" and img.size == (24, 20)
    diff = np.asarray(Image.open(tmp_path / "rep" / pictures[5]))
    assert "int8_diff" in pictures[5] and diff.any()  # the noisy artifact's heat map is not black
    assert not np.asarray(Image.open(tmp_path / "rep" / pictures[2])).any()  # the identical one's is
    assert "FAILED (1)" in html


def test_failure_text_names_artifact_and_numbers():
    _, bad, skipped = fake_run().results
    text = bad.failure_text()
    assert text.startswith("fmt int8 (m_int8.x) in rt (needs PSNR >= 40 dB, max abs <= 1)")
    assert "PSNR" in text.split(":", 1)[1] and "max abs" in text.split(":", 1)[1]
    assert skipped.failure_text().endswith("gone is not installed (pip x)")
