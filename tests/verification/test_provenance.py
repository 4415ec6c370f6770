"""Provenance records: `parity --export-dir` reuses an artifact only when what made it matches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from styleport import checkpoints
from styleport.export import base as exporters
from styleport.parity.run import Target, obtain
from styleport.precision import Precision
from styleport.tolerances import lookup
from styleport.verification import provenance
from tests.conftest import make_net

pytest.importorskip("onnx")
SIZE = (40, 48)


def _obtain(model_path, folder, options=None):
    checkpoint = checkpoints.load(model_path)
    target = Target("onnx", Precision.FP32, exporters.get("onnx").runtime, lookup("onnx", Precision.FP32))
    return obtain(checkpoint, checkpoint.build("cpu"), target, folder, (), (SIZE,), options)


def test_reuse_only_when_the_provenance_matches(tmp_path):
    model = checkpoints.save(tmp_path / "m.pth", make_net(seed=0), {"style_names": ["m"]})
    folder = tmp_path / "exports"
    path, _, origin = _obtain(model, folder)
    assert origin == "exported"
    record = json.loads(provenance.sidecar(path).read_text())
    assert record["checkpoint_sha256"] == provenance.file_sha256(model)
    assert record["precision"] == "fp32" and record["styleport"] and record["exporter_code_sha256"]
    assert record["options"] == {"int8_scheme": "auto"}  # defaults filled in

    assert _obtain(model, folder)[2] == "existing"  # same checkpoint, options, code: reused

    checkpoints.save(model, make_net(seed=1), {"style_names": ["m"]})  # the checkpoint changed under the same name
    path, _, origin = _obtain(model, folder)
    assert origin == "re-exported (made from another checkpoint)"
    assert json.loads(provenance.sidecar(path).read_text())["checkpoint_sha256"] == provenance.file_sha256(model)

    assert _obtain(model, folder, {"int8_scheme": "a8w8"})[2] == "re-exported (exported with other options)"

    provenance.sidecar(path).unlink()  # a file of unknown origin is never trusted
    assert _obtain(model, folder)[2] == "re-exported (no provenance record)"


def test_mismatch_names_every_difference():
    wanted = {"checkpoint_sha256": "a", "styleport": "0.2", "options": {}}
    assert provenance.mismatch(wanted, wanted) == ""
    assert provenance.mismatch(None, wanted) == "no provenance record"
    got = provenance.mismatch({"checkpoint_sha256": "b", "styleport": "0.1", "options": {}}, wanted)
    assert got == "made from another checkpoint, made by another styleport version"


def test_parity_says_when_it_re_exports(tmp_path, capsys):
    from styleport.cli import main

    model = checkpoints.save(tmp_path / "m.pth", make_net(seed=0), {"style_names": ["m"]})
    folder = tmp_path / "exports"
    path, _, _ = _obtain(model, folder)
    checkpoints.save(model, make_net(seed=2), {"style_names": ["m"]})  # stale: another checkpoint made it
    argv = ["parity", str(model), "--formats", "onnx", "--precisions", "fp32", "--sizes", "40x48", "--runs", "1"]
    code = main([*argv, "--export-dir", str(folder), "--report", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "onnx fp32: re-exported (made from another checkpoint)" in err
    result = json.loads((tmp_path / "r" / "report.json").read_text())["results"][0]
    assert result["status"] == "passed" and result["origin"] == "re-exported (made from another checkpoint)"


def test_the_code_digest_covers_what_shapes_an_artifact_outside_export():
    """A change to the network or its exact rewrites changes exported files: reuse must not survive it."""
    import styleport.export.onnx
    import styleport.model
    import styleport.onnx_norm
    import styleport.subpixel
    import styleport.subpixel_kernels

    hashed = {p.resolve() for p in provenance.exporter_code_files()}
    for module in (
        styleport.export.onnx,
        styleport.model,
        styleport.onnx_norm,
        styleport.subpixel,
        styleport.subpixel_kernels,
    ):
        assert Path(module.__file__).resolve() in hashed, module.__name__
    assert all(p.is_file() for p in hashed)  # a renamed module fails here instead of silently dropping out
