"""Planning: formats x precisions resolved and validated before any work."""

from __future__ import annotations

import pytest

from styleport import checkpoints
from styleport.errors import UsageError
from styleport.export import base, pipeline
from styleport.precision import Precision


def test_all_with_a_precision_keeps_only_formats_that_have_it(tiny_checkpoint, tmp_path):
    ckpt = checkpoints.load(tiny_checkpoint)
    jobs = pipeline.plan(ckpt, ["all"], tmp_path, [Precision.INT8])
    expected = {n for n in base.names() if Precision.INT8 in base.get(n).precisions}
    assert {j.request.format for j in jobs} == expected and {"onnx", "ort"} <= expected
    assert not tmp_path.joinpath("x").exists() and list(tmp_path.iterdir()) == []  # planning writes nothing


def test_explicit_format_without_the_precision_is_an_error(tiny_checkpoint, tmp_path):
    ckpt = checkpoints.load(tiny_checkpoint)
    with pytest.raises(UsageError, match="onnx does not support precision palette6"):
        pipeline.plan(ckpt, ["onnx", "ort"], tmp_path, [Precision.FP32, Precision.PALETTE6])


def test_defaults_and_file_names(tiny_checkpoint, tmp_path):
    ckpt = checkpoints.load(tiny_checkpoint)
    jobs = pipeline.plan(ckpt, ["onnx", "ort", "onnx"], tmp_path)
    assert [(j.request.format, j.request.precision, j.out.name) for j in jobs] == [
        ("onnx", Precision.FP32, "tiny_fp32.onnx"),
        ("ort", Precision.FP32, "tiny_fp32.ort"),
    ]


def test_human_size():
    assert pipeline.human_size(512) == "512 B"
    assert pipeline.human_size(3 * 1024 * 1024) == "3.0 MB"


def test_an_earlier_folder_export_may_be_replaced_a_folder_with_user_files_not(tmp_path):
    tfjs = tmp_path / "m_fp32_tfjs"
    tfjs.mkdir()
    for name in ("model.json", "group1-shard1of1.bin", "styleport.json"):  # the exporter's own layout
        (tfjs / name).write_text("{}")
    package = tmp_path / "m_fp32.mlpackage"
    package.mkdir()
    (package / "Manifest.json").write_text("{}")
    assert pipeline.is_artifact(tfjs) and pipeline.is_artifact(package)
    (tfjs / "notes.txt").write_text("mine")
    assert not pipeline.is_artifact(tfjs)
    assert not pipeline.is_artifact(tmp_path)
