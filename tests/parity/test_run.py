"""Engine pieces that need no runtime: planning, device mapping, labels, inputs."""

from __future__ import annotations

import pytest

from styleport import tolerances
from styleport.errors import StyleportError, UsageError
from styleport.export import base as exporters
from styleport.images import sample_photos
from styleport.parity import run
from styleport.precision import Precision
from styleport.runtimes import base as runtimes
from styleport.runtimes.base import RunInfo
from styleport.verification import engine


def test_plan_reads_the_registry_and_filters_precisions():
    everything = run.plan(run.ParityConfig())
    expected = {(n, p) for n in exporters.names() for p in exporters.get(n).precisions}
    assert {(t.format, t.precision) for t in everything} == expected
    first = exporters.names()[0]
    only = run.plan(run.ParityConfig(formats=(first,), precisions=(Precision.FP32, Precision.PALETTE4)))
    assert [t.precision for t in only] == [
        p for p in (Precision.FP32, Precision.PALETTE4) if p in exporters.get(first).precisions
    ]
    assert all(t.runtime == exporters.get(first).runtime for t in only)


def test_plan_rejects_bad_requests_before_work(monkeypatch):
    with pytest.raises(UsageError, match="unknown export format"):
        run.plan(run.ParityConfig(formats=("nope",)))
    with pytest.raises(UsageError, match="--runs"):
        run.plan(run.ParityConfig(runs=0))
    with pytest.raises(UsageError, match="unknown device"):
        run.plan(run.ParityConfig(device="tpu"))
    name = exporters.names()[0]
    monkeypatch.setattr(tolerances, "TOLERANCES", tuple(t for t in tolerances.TOLERANCES if t.format != name))
    with pytest.raises(StyleportError, match=f"no parity tolerance defined for {name}"):
        run.plan(run.ParityConfig(formats=(name,)))


def test_coreml_on_linux_is_labelled_as_the_interpreter():
    label = runtimes.get("coreml").describe(RunInfo("coreml", "linux-interpreter"))
    assert "numpy MIL interpreter" in label and "not Apple's CoreML runtime" in label
    info = RunInfo("onnxruntime", "cpu", "CPUExecutionProvider", 2, "fell back")
    assert runtimes.get("onnxruntime").describe(info) == "onnxruntime / CPUExecutionProvider / 2 threads (fell back)"


def test_runtime_device_mapping():
    assert runtimes.get("tfjs-node").device_for("cpu") == "auto"  # wasm, not the 25 s/image cpu backend
    assert runtimes.get("onnxruntime").device_for("cpu") == "cpu"
    assert runtimes.get("litert").device_for("cuda") is None  # -> SKIPPED with the reason
    assert runtimes.get("onnxruntime").device_for("cuda") == "cuda"
    assert runtimes.get("coreml").device_for("cuda") is None


def test_inputs_are_photos_fitted_to_every_size():
    photos = sample_photos("verification")
    inputs = engine.load_inputs(photos[:2], [(32, 48), (37, 29)])
    sizes = ("32x48", "37x29")
    assert [i.label for i in inputs] == [f"{p.stem}_{s}" for s in sizes for p in photos[:2]] + [
        f"dark-frame_{s}" for s in sizes
    ]
    assert [i.image.shape for i in inputs] == [(32, 48, 3)] * 2 + [(37, 29, 3)] * 2 + [(32, 48, 3), (37, 29, 3)]
    photos_in, darks = inputs[:4], inputs[4:]
    assert all(
        i.image.dtype.name == "float32" and 0 <= i.image.min() and i.image.max() <= 255 and i.image.std() > 5
        for i in photos_in
    )
    assert all(d.image.max() == 1 and 0 < d.image.mean() < 0.01 for d in darks)  # black with a few level-1 pixels
