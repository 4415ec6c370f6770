"""``styleport verify`` end to end on a tiny net's ONNX file: pass, fail with numbers, all-skipped, bad input."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from styleport import checkpoints
from styleport.cli import main
from styleport.precision import Precision
from styleport.runtimes import base as runtimes
from styleport.tolerances import lookup
from styleport.verification.inspect import inspect
from tests.conftest import make_net

onnx = pytest.importorskip("onnx")
SIZES = "40x48,37x29"  # 37x29: not a multiple of 4


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Checkpoints a (the reference), b (another seed), two (two styles), and a's ONNX fp32 export."""
    from styleport.export import pipeline

    root = tmp_path_factory.mktemp("verify")
    a = checkpoints.save(root / "a.pth", make_net(seed=0), {"style_names": ["a"]})
    b = checkpoints.save(root / "b.pth", make_net(seed=1), {"style_names": ["b"]})
    two = checkpoints.save(root / "two.pth", make_net(num_styles=2), {"style_names": ["x", "y"]})
    ckpt = checkpoints.load(a)
    jobs = pipeline.plan(ckpt, ["onnx"], root / "out", [Precision.FP32])
    (result,) = pipeline.run(ckpt, jobs, verify=False)
    return {"a": a, "b": b, "two": two, "onnx": result.artifact.path, "root": root}


def verify(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["verify", *map(str, argv), "--sizes", SIZES, "--runs", "1"])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_right_artifact_passes_and_the_report_is_written(files, capsys, tmp_path):
    code, out, err = verify(capsys, files["a"], files["onnx"], "--report", tmp_path / "r")
    assert code == 0, err
    assert re.search(
        r"a_fp32\.onnx: onnx fp32: ok PSNR [\d.]+ dB \(min of 8\)", out
    )  # 3 held-out photos + dark frame, x 2 sizes
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["passed"] is True and data["verified"] is True
    (r,) = data["results"]
    assert r["status"] == "passed" and r["origin"] == "given" and r["path"] == str(files["onnx"])
    assert {c["image"] for c in r["cases"]} == {"eiffelTower", "montStMichel", "neuschwansteinCastle", "dark-frame"}
    assert (tmp_path / "r" / "report.md").is_file() and (tmp_path / "r" / "report.html").is_file()


def test_an_artifact_of_another_checkpoint_fails_with_the_numbers(files, capsys, tmp_path):
    code, out, err = verify(capsys, files["b"], files["onnx"], "--report", tmp_path / "r")
    assert code == 1
    message = err.strip().splitlines()[-1]
    assert message.startswith("styleport: error: verify FAILED for 1 of 1 artifact(s): onnx fp32")
    assert (
        re.search(r"max abs [\d.]+, mean abs [\d.]+, PSNR [\d.]+ dB", message)
        and f"needs PSNR >= {lookup('onnx', Precision.FP32).min_psnr:g} dB" in message
    )
    assert "exported from another checkpoint" in err  # its provenance record says so
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert data["passed"] is False and data["results"][0]["status"] == "failed"


def test_nothing_verified_exits_3(files, capsys, monkeypatch, tmp_path):
    runtime_class = type(runtimes.get("onnxruntime"))
    monkeypatch.setattr(runtime_class, "availability", classmethod(lambda cls: "onnxruntime is not installed"))
    code, out, err = verify(capsys, files["a"], files["onnx"], "--report", tmp_path / "r")
    assert code == 3 and "nothing verified" in err and "SKIPPED: onnxruntime is not installed" in out
    assert json.loads((tmp_path / "r" / "report.json").read_text())["passed"] is False


def test_precision_comes_from_the_metadata_else_the_weights(files, tmp_path):
    info = inspect(files["onnx"])
    assert (info.format, info.precision, info.precision_from) == ("onnx", Precision.FP32, "styleport metadata")
    assert info.layout == "NCHW" and info.inputs == ("image",) and info.provenance["checkpoint_sha256"]
    bare = onnx.load(str(files["onnx"]))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    assert inspect(tmp_path / "bare.onnx").precision_from == "the weights"
    forced = inspect(tmp_path / "bare.onnx", Precision.FP16)
    assert (forced.precision, forced.precision_from) == (Precision.FP16, "--precision")


def _renamed_input(src, dst):
    model = onnx.load(str(src))
    old = model.graph.input[0].name
    model.graph.input[0].name = "input"
    for node in model.graph.node:
        node.input[:] = ["input" if n == old else n for n in node.input]
    onnx.save(model, str(dst))


def _nhwc(dst):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["stylized"])],
        "nhwc",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, "H", "W", 3])],
        [helper.make_tensor_value_info("stylized", TensorProto.FLOAT, [1, "H", "W", 3])],
    )
    onnx.save(helper.make_model(graph), str(dst))


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("unknown", "unknown artifact type '.txt'"),
        ("folder", "a folder that is not a model package"),
        ("truncated", "unreadable ONNX file, truncated or corrupt"),
        ("missing", "no such file or folder"),
        ("renamed", "inputs input do not match the model's image"),
        ("nhwc", "input 'image' is NHWC; a styleport onnx file takes NCHW"),
        ("styles", "inputs image do not match the model's image, style_weights"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(files, capsys, tmp_path, case, needle):
    model = files["two"] if case == "styles" else files["a"]
    artifact = {
        "unknown": tmp_path / "notes.txt",
        "folder": tmp_path / "somefolder",
        "truncated": tmp_path / "cut.onnx",
        "missing": tmp_path / "nope.onnx",
        "renamed": tmp_path / "renamed.onnx",
        "nhwc": tmp_path / "nhwc.onnx",
        "styles": files["onnx"],
    }[case]
    if case == "unknown":
        artifact.write_text("hello")
    elif case == "folder":
        artifact.mkdir()
        (artifact / "weights.bin").write_bytes(b"\0" * 16)
    elif case == "truncated":
        artifact.write_bytes(files["onnx"].read_bytes()[:20000])
    elif case == "renamed":
        _renamed_input(files["onnx"], artifact)
    elif case == "nhwc":
        _nhwc(artifact)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = verify(capsys, model, files["onnx"], artifact, "--report", tmp_path / "report")
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"styleport: error: {artifact}") and needle in lines[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no report, nothing else


def test_python_api_raises_typed_errors(files):
    import styleport
    from styleport.verification.api import VerifyFailure

    run = styleport.verify(files["a"], [files["onnx"]], sizes=[(40, 48)], runs=1)
    assert run.passed and run.results[0].psnr > 60
    with pytest.raises(VerifyFailure, match="PSNR") as info:
        styleport.verify(files["b"], [files["onnx"]], sizes=[(40, 48)], runs=1)
    assert info.value.run.failed[0].max_abs > 1


def test_a_copied_artifact_without_its_record_still_verifies(files, capsys, tmp_path):
    copy = tmp_path / "App.onnx"
    shutil.copy2(files["onnx"], copy)  # pulled out of an app bundle: no sidecar, metadata inside
    code, out, err = verify(capsys, files["a"], copy)
    assert code == 0, err
    assert np.isfinite(inspect(copy).num_styles) and inspect(copy).provenance is None


def test_a_file_that_cannot_be_read_here_is_skipped(files, capsys, monkeypatch):
    from styleport.errors import MissingDependencyError
    from styleport.verification import inspect as inspection

    def missing(path):
        raise MissingDependencyError("onnx", "onnx", "reading ONNX files")

    monkeypatch.setitem(inspection.READERS, "onnx", missing)
    code, out, err = verify(capsys, files["a"], files["onnx"])  # a_fp32.onnx: the name gives the precision
    assert code == 3 and "onnx fp32: SKIPPED: cannot read it here" in out and "styleport[onnx]" in out
