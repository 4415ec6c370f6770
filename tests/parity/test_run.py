"""Engine pieces that need no runtime: planning, device mapping, labels, inputs."""

from __future__ import annotations

import pytest

from styleport import tolerances
from styleport.errors import StyleportError, UsageError
from styleport.export import base as exporters
from styleport.parity import run
from styleport.precision import Precision
from styleport.runtimes.base import RunInfo


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


def test_coreml_on_linux_is_labelled_as_the_interpreter(monkeypatch):
    monkeypatch.setattr(run.sys, "platform", "linux")
    label = run.describe_runtime("coreml", RunInfo("coreml", "linux-interpreter"))
    assert "numpy MIL interpreter" in label and "not Apple's CoreML runtime" in label
    other = run.describe_runtime("onnxruntime", RunInfo("onnxruntime", "cpu", "CPUExecutionProvider", 2, "fell back"))
    assert other == "onnxruntime / CPUExecutionProvider / 2 threads (fell back)"


def test_runtime_device_mapping():
    assert run.runtime_device("tfjs-node", "cpu") == "auto"  # wasm, not the 25 s/image cpu backend
    assert run.runtime_device("onnxruntime", "cpu") == "cpu"
    assert run.runtime_device("litert", "cuda") is None  # -> SKIPPED with the reason
    assert run.runtime_device("onnxruntime", "cuda") == "cuda"


def test_inputs_are_photos_fitted_to_every_size():
    photos = run.default_images()
    assert photos, "styleport/data/samples has no photos"
    inputs = run.load_inputs(photos[:2], [(32, 48), (37, 29)])
    assert [label for label, _ in inputs] == [f"{p.stem}_{s}" for s in ("32x48", "37x29") for p in photos[:2]]
    assert [img.shape for _, img in inputs] == [(32, 48, 3)] * 2 + [(37, 29, 3)] * 2
    assert all(
        img.dtype.name == "float32" and 0 <= img.min() and img.max() <= 255 and img.std() > 5 for _, img in inputs
    )
