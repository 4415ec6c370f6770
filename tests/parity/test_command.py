"""``styleport parity`` end to end: reports, reuse of --export-dir, a tampered artifact, SKIPPED runtimes."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from styleport.cli import main
from styleport.runtimes import base as runtimes
from styleport.verification import provenance
from tests.parity.conftest import SIZE

SIZE_ARG = f"{SIZE[0]}x{SIZE[1]}"


def parity(capsys, checkpoint, photo, export_dir, report, *extra: str) -> tuple[int, str, str]:
    argv = ["parity", str(checkpoint), "--sizes", SIZE_ARG, "--images", str(photo), "--runs", "1"]
    argv += ["--export-dir", str(export_dir), "--report", str(report), *extra]
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_tampered_onnx_fails_with_the_numbers(tmp_path, capsys, parity_checkpoint, parity_photo, exported):
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    exports = tmp_path / "exports"
    exports.mkdir()
    name = f"{parity_checkpoint.stem}_fp32.onnx"
    source = exported("onnx", "fp32")
    shutil.copy2(source, exports / name)  # a private copy to tamper with, and its provenance record
    shutil.copy2(provenance.sidecar(source), provenance.sidecar(exports / name))
    args = (capsys, parity_checkpoint, parity_photo, exports)
    code, out, err = parity(*args, tmp_path / "ok", "--formats", "onnx", "--precisions", "fp32")
    assert code == 0, err
    artifact = exports / name
    assert artifact.is_file()
    first = json.loads((tmp_path / "ok" / "report.json").read_text())
    assert first["passed"] is True and first["results"][0]["status"] == "passed"

    # Add noise (5% of their spread) to the largest weight tensor: a plausible silent corruption. (Scaling
    # would not do: the instance norm after each conv divides a uniform scale away.)
    model = onnx.load(str(artifact))
    init = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    weights = numpy_helper.to_array(init).astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 0.05 * weights.std(), weights.shape).astype(np.float32)
    init.CopyFrom(numpy_helper.from_array(weights + noise, init.name))
    onnx.save(model, str(artifact))

    code, out, err = parity(*args, tmp_path / "bad", "--formats", "onnx", "--precisions", "fp32")
    assert code == 1
    message = err.strip().splitlines()[-1]
    assert message.startswith("styleport: error: parity FAILED for 1 of 1 artifact(s): onnx fp32")
    assert str(artifact) in message
    assert re.search(r"PSNR [\d.]+ dB", message) and "max abs" in message and "needs PSNR >=" in message
    report = json.loads((tmp_path / "bad" / "report.json").read_text())
    (result,) = report["results"]
    assert result["status"] == "failed" and result["origin"] == "existing"
    assert report["passed"] is False and report["counts"] == {"passed": 0, "failed": 1, "skipped": 0}
    assert result["psnr_min"] < result["tolerance"]["min_psnr"]
    assert "FAIL" in (tmp_path / "bad" / "report.md").read_text()


def test_report_files_and_pictures(tmp_path, capsys, parity_checkpoint, parity_photo, parity_exports):
    pytest.importorskip("onnxruntime")
    report = tmp_path / "report"
    # the shared export folder: artifacts exported here are reused by the matrix (and vice versa)
    code, out, err = parity(capsys, parity_checkpoint, parity_photo, parity_exports, report, "--formats", "onnx")
    assert code == 0, err
    data = json.loads((report / "report.json").read_text())
    assert data["reference"]["label"].startswith("torch fp32 on cpu")  # no GPU on the test machine
    assert data["sizes"] == [list(SIZE)]
    assert {r["precision"] for r in data["results"]} == {"fp32", "fp16", "int8"}
    for r in data["results"]:
        assert r["latency"]["runs"] == 1 and r["latency"]["median_ms"] > 0
        assert r["run_info"]["runtime"] == "onnxruntime" and r["size_bytes"] > 0
        assert [c["height"] for c in r["cases"]] == [SIZE[0]] * 2
        assert [c["image"] for c in r["cases"]][1] == "dark-frame"  # after the photo (verification.engine.dark_frame)
        assert [c["float_held"] for c in r["cases"]] == [True, r["tolerance"]["dark_frame"] == "both"]
    html = (report / "report.html").read_text()
    pictures = re.findall(r"src='([^']+)'", html)
    assert len(pictures) == 3 * len(data["results"])
    for picture in pictures:
        with Image.open(report / picture) as img:
            assert img.format == "PNG" and img.size == (SIZE[1], SIZE[0])
    md = (report / "report.md").read_text()
    assert md.count("| onnx ") == 3 and "torch fp32 on cpu" in md
    assert "onnx fp32" in out and "report:" in out


def test_unavailable_runtime_is_skipped_never_passed(tmp_path, capsys, monkeypatch, parity_checkpoint, parity_photo):
    runtime_class = type(runtimes.get("onnxruntime"))
    reason = "onnxruntime is not installed (pip install 'styleport[onnx]')"
    monkeypatch.setattr(runtime_class, "availability", classmethod(lambda cls: reason))
    exports = tmp_path / "exports"
    code, out, err = parity(capsys, parity_checkpoint, parity_photo, exports, tmp_path / "r", "--formats", "onnx")
    assert code == 3 and "nothing verified: all 3 artifact(s) were SKIPPED" in err  # a skip is never a pass
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["passed"] is False and data["verified"] is False
    assert data["counts"] == {"passed": 0, "failed": 0, "skipped": 3}
    assert all(r["status"] == "skipped" and r["reason"] == reason for r in data["results"])
    assert "SKIPPED" in (tmp_path / "r" / "report.md").read_text() and "PASS" not in out


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--formats", "nope"], "unknown export format 'nope'"),
        (["--formats", "onnx", "--precisions", "palette4"], "supports the precisions palette4"),
        (["--sizes", "8x8"], "each side must be in 16..8192"),
        (["--sizes", "12xx3"], "bad shape"),
        (["--runs", "0"], "argument --runs: must be in 1..1000"),
        (["--formats", "onnx", "--option", "onnx.int8_scheme=bogus"], "int8_scheme=bogus: choose from"),
        (["--formats", "onnx", "--option", "tflite.shard_mb=2"], "--option for tflite, which is not being checked"),
    ],
)
def test_usage_errors_before_any_work(tmp_path, capsys, parity_checkpoint, parity_photo, extra, needle):
    code, out, err = parity(capsys, parity_checkpoint, parity_photo, tmp_path / "e", tmp_path / "r", *extra)
    assert code == 2 and needle in err
    assert not (tmp_path / "e").exists() and not (tmp_path / "r").exists()  # nothing exported, no report


def test_missing_checkpoint(tmp_path, capsys, parity_photo):
    code, out, err = parity(capsys, tmp_path / "nope.pth", parity_photo, tmp_path / "e", tmp_path / "r")
    assert code == 2 and "nope.pth" in err
