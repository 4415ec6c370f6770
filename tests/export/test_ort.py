"""ORT-format (ONNX Runtime Mobile) export, verified by loading the .ort file in ONNX Runtime."""

from __future__ import annotations

import pytest

from styleport import checkpoints
from styleport.export import pipeline
from styleport.precision import Precision

pytest.importorskip("onnxruntime")
SIZES = ((48, 40), (37, 53))


@pytest.mark.parametrize("precision", [Precision.FP32, Precision.FP16, Precision.INT8])
def test_ort_format(tiny_checkpoint, tmp_path, precision):
    ckpt = checkpoints.load(tiny_checkpoint)
    # one named scheme (auto would try them all): the fast one; per-tensor a8w8-skip lands 32.1 dB on the
    # stroke-weighted great_wave of 2026-12-03, below the a8 row (per-channel weights keep the strokes)
    options = {"ort": {"int8_scheme": "a8w8-pc-enc"}} if precision == Precision.INT8 else None
    jobs = pipeline.plan(ckpt, ["ort"], tmp_path, [precision], options=options)
    (result,) = pipeline.run(ckpt, jobs, verify_sizes=SIZES)
    assert result.artifact.path.suffix == ".ort"
    assert result.artifact.path.read_bytes()[4:8] == b"ORTM"  # flatbuffer file identifier
    assert result.verification.status == "passed", result.summary()
    assert result.verification.runtime == "onnxruntime"


def test_ort_fp16_keeps_fp16_weights(tiny_checkpoint, tmp_path):
    ckpt = checkpoints.load(tiny_checkpoint)
    jobs = pipeline.plan(ckpt, ["ort"], tmp_path, [Precision.FP32, Precision.FP16])
    fp32, fp16 = pipeline.run(ckpt, jobs, verify=False)
    assert fp16.artifact.details["ort_level"] == "basic"  # level "all" folds fp16 weights back to fp32
    assert fp16.artifact.size_bytes < 0.8 * fp32.artifact.size_bytes


def test_runtime_optimization_style_loads_and_matches(tiny_checkpoint, tmp_path):
    ckpt = checkpoints.load(tiny_checkpoint)
    jobs = pipeline.plan(ckpt, ["ort"], tmp_path, [Precision.FP32], options={"ort": {"optimization": "runtime"}})
    (result,) = pipeline.run(ckpt, jobs, verify_sizes=SIZES)
    assert result.artifact.details["ort_optimization"] == "runtime"
    assert result.verification.status == "passed", result.summary()
