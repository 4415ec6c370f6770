"""Meta-test: every registered exporter declares a usable contract, a registered runtime to verify
it, and a tolerance row for every precision it offers (a pair without a row cannot be verified)."""

from __future__ import annotations

import pytest

from styleport.export import base
from styleport.runtimes import base as runtimes
from styleport.tolerances import lookup


@pytest.mark.parametrize("name", base.names())
def test_exporter_contract(name):
    exporter = base.get(name)
    assert exporter.name == name
    assert exporter.suffix and exporter.extra
    assert exporter.default_precision in exporter.precisions
    assert exporter.runtime in runtimes.names(), f"{name} is verified by unregistered runtime {exporter.runtime}"
    assert name in runtimes.get(exporter.runtime).formats
    for precision in exporter.precisions:
        assert lookup(name, precision).reason
    for key, spec in exporter.options.items():
        assert not spec.choices or spec.default in spec.choices, f"{name}.{key} default not among its choices"


def test_onnx_and_ort_are_registered():
    assert {"onnx", "ort"} <= set(base.names())
    assert {"torch", "onnxruntime"} <= set(runtimes.names())
