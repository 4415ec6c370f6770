"""``styleport export`` end to end: success summary, validation before any work, broken artifacts."""

from __future__ import annotations

import pytest

from styleport.cli import main
from styleport.fileutil import MARKER

pytest.importorskip("onnxruntime")
SIZES = "48x40,37x53"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--to", "onnx", "--precision", "palette4"], "onnx does not support precision palette4"),
        (["--to", "onnx", "--option", "onnx.nope=1"], "onnx has no option 'nope'"),
        (["--to", "onnx", "--option", "onnx.int8_scheme=magic"], "int8_scheme=magic: choose from"),
        (["--to", "onnx,ort", "--option", "ort.optimization=turbo"], "optimization=turbo"),
        (["--to", "onnx,nosuchformat"], "unknown export format 'nosuchformat'"),
        (["--to", "onnx", "--option", "tflite.x=1"], "not being exported"),
        (["--to", "onnx", "--shapes", "64by64"], "bad shape '64by64'"),
        (["--to", "onnx", "--precision", "fp64"], "unknown precision 'fp64'"),
    ],
)
def test_bad_requests_fail_before_any_file_is_written(tiny_checkpoint, tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    code = main(["export", str(tiny_checkpoint), "-o", str(out), *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_missing_checkpoint_is_one_line_error(tmp_path, capsys):
    assert main(["export", str(tmp_path / "none.pth"), "--to", "onnx", "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "none.pth: no such file" in err and len(err.strip().splitlines()) == 1


def test_export_prints_one_verified_line_per_artifact(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["export", str(tiny_checkpoint), "--to", "onnx", "-o", str(out), "--verify-sizes", SIZES])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("onnx    fp32") and "tiny_fp32.onnx" in lines[0] and " ok PSNR " in lines[0]
    assert sorted(p.name for p in out.iterdir() if p.name != MARKER) == [
        "tiny_fp32.onnx",
        "tiny_fp32.onnx.styleport.json",
    ]  # + provenance


def test_tampered_artifact_fails_verification_and_is_removed(tiny_checkpoint, tmp_path, capsys, monkeypatch):
    import onnx
    from onnx import numpy_helper

    from styleport.export.onnx import OnnxExporter
    from styleport.precision import Precision

    original = OnnxExporter.export

    def export_then_tamper(self, model, checkpoint, out, request):
        artifact = original(self, model, checkpoint, out, request)
        if request.precision == Precision.FP16:  # only the fp16 file is broken; fp32 stays good
            proto = onnx.load(str(out))
            last_conv = [n for n in proto.graph.node if n.op_type == "Conv"][-1]
            for init in proto.graph.initializer:
                if init.name == last_conv.input[1]:  # the output conv's weights, altered after export
                    init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1.05, init.name))
            onnx.save(proto, str(out))
        return artifact

    monkeypatch.setattr(OnnxExporter, "export", export_then_tamper)
    out = tmp_path / "out"
    argv = ["export", str(tiny_checkpoint), "--to", "onnx", "--precision", "fp16,fp32", "-o", str(out)]
    code = main([*argv, "--verify-sizes", SIZES])
    captured = capsys.readouterr()
    err = captured.err
    assert code == 1
    assert "1 of 2 artifacts failed: onnx fp16" in err
    assert "does not match the torch reference" in err and "PSNR" in err and "max abs" in err
    assert "48x40" in err and "37x53" in err  # every failing case is listed with its numbers
    # the broken file (its temp, and no provenance record) is gone
    assert sorted(p.name for p in out.iterdir() if p.name != MARKER) == [
        "tiny_fp32.onnx",
        "tiny_fp32.onnx.styleport.json",
    ]
    assert "tiny_fp32.onnx" in captured.out and " ok PSNR " in captured.out  # the good one was still exported


def test_no_verify_says_so(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["export", str(tiny_checkpoint), "--to", "onnx", "-o", str(out), "--no-verify"]) == 0
    captured = capsys.readouterr()
    assert "not verified (--no-verify)" in captured.out and "NOT be checked" in captured.err


def test_list_shows_every_format_with_options(capsys):
    from styleport.export.base import names

    assert main(["export", "--list"]) == 0
    out = capsys.readouterr().out
    for name in names():
        assert f"\n{name} " in f"\n{out}"
    assert "--option onnx.int8_scheme=auto" in out and "--option ort.optimization=fixed" in out


def test_missing_to_is_a_usage_error(tiny_checkpoint, capsys):
    assert main(["export", str(tiny_checkpoint)]) == 2
    assert "--to FORMAT" in capsys.readouterr().err
