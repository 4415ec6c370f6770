"""The TF.js-in-Node runtime: one Node process per session, wasm and cpu backends, errors, unavailability."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from styleport import checkpoints
from styleport.errors import StyleportError, UsageError
from styleport.export import base
from styleport.export.base import ExportRequest
from styleport.precision import Precision
from styleport.runtimes import base as runtimes
from styleport.runtimes import tfjs_node
from styleport.runtimes.base import RuntimeUnavailable
from tests.conftest import make_net, random_image, torch_run

# --- availability: runs everywhere, no TensorFlow or Node needed -------------------------------


def test_missing_node_is_reported_with_the_fix(monkeypatch):
    monkeypatch.setattr(tfjs_node.shutil, "which", lambda _name: None)
    reason = tfjs_node.TFJSNodeRuntime.availability()
    assert reason is not None and "node is not installed" in reason and "npm ci" in reason
    with pytest.raises(RuntimeUnavailable, match="node is not installed"):
        runtimes.get("tfjs-node").open("whatever_tfjs")


def test_missing_packages_are_reported_with_the_fix(monkeypatch):
    monkeypatch.setattr(tfjs_node.shutil, "which", lambda _name: "/usr/bin/node")
    monkeypatch.setattr(tfjs_node, "node_modules", lambda: None)
    reason = tfjs_node.TFJSNodeRuntime.availability()
    assert "@tensorflow/tfjs" in reason and "run `npm ci` in the styleport repository root" in reason


def test_node_modules_lookup_prefers_the_environment(monkeypatch, tmp_path):
    fake = tmp_path / "node_modules"
    for pkg in tfjs_node.PACKAGES:
        (fake / pkg).mkdir(parents=True)
        (fake / pkg / "package.json").write_text("{}")
    monkeypatch.setenv("STYLEPORT_NODE_MODULES", str(fake))
    assert tfjs_node.node_modules() == fake
    monkeypatch.setenv("STYLEPORT_NODE_MODULES", str(tmp_path / "empty"))
    found = tfjs_node.node_modules()
    assert found is None or found != tmp_path / "empty"  # falls back to the repo root / cwd


def test_unknown_device_and_options():
    rt = runtimes.get("tfjs-node")
    with pytest.raises(UsageError, match="unknown device 'webgl'"):
        rt.open("x_tfjs", device="webgl")
    with pytest.raises(UsageError, match="unknown options"):
        rt.open("x_tfjs", flags="1")


# --- running models: needs TensorFlow (to export) and node + npm packages -----------------------

REASON = tfjs_node.unavailable_reason()
needs_node = pytest.mark.skipif(REASON is not None, reason=f"TF.js Node runtime unavailable: {REASON}")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{num_styles: (model, tfjs folder)} for width-0.25 nets with one and two styles."""
    pytest.importorskip("tensorflow")
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")  # see styleport/export/tfjs.py
    pytest.importorskip("tensorflowjs")
    folder = tmp_path_factory.mktemp("tfjs_node")
    out = {}
    for styles in (1, 2):
        ckpt = checkpoints.load(checkpoints.save(folder / f"s{styles}.pth", make_net(0.25, styles, seed=40 + styles)))
        model = ckpt.build()
        path = folder / f"s{styles}_tfjs"
        base.get("tfjs").export(model, ckpt, path, ExportRequest("tfjs", Precision.FP32))
        out[styles] = (model, path)
    return out


@needs_node
def test_one_process_serves_many_images(exported):
    model, path = exported[1]
    with runtimes.get("tfjs-node").open(path) as session:
        pid = session.proc.pid
        for h, w in ((32, 48), (37, 53), (64, 40)):
            img = random_image(h, w, seed=h + w)
            got = session.run(img)
            assert got.shape == (h, w, 3)
            assert np.abs(got - torch_run(model, img)).max() < 0.05
            assert session.proc.pid == pid and session.last_ms > 0
        info = session.info
        assert info.runtime == "tfjs-node" and info.device == "node-wasm" and info.threads >= 1
        assert "tfjs 4.22.0" in info.notes
    assert session.proc.poll() == 0  # closed cleanly on quit


@needs_node
def test_cpu_backend(exported):
    model, path = exported[1]
    img = random_image(32, 36, seed=5)
    with runtimes.get("tfjs-node").open(path, device="cpu") as session:
        assert session.info.device == "node-cpu"
        assert np.abs(session.run(img) - torch_run(model, img)).max() < 0.05


@needs_node
def test_style_weights(exported):
    model, path = exported[2]
    img = random_image(36, 44, seed=6)
    with runtimes.get("tfjs-node").open(path) as session:
        assert session.num_styles == 2
        mix = np.array([0.6, 0.4], np.float32)
        assert np.abs(session.run(img, mix) - torch_run(model, img, mix)).max() < 0.05
        default = session.run(img)
        np.testing.assert_array_equal(default, session.run(img, np.array([1.0, 0.0], np.float32)))
        with pytest.raises(UsageError, match="expects 2 style weights, got 3"):
            session.run(img, np.ones(3, np.float32))


@needs_node
def test_broken_folders_give_one_line_errors(exported, tmp_path):
    rt = runtimes.get("tfjs-node")
    with pytest.raises(StyleportError, match="not a TF.js graph model folder"):
        rt.open(tmp_path)
    bad = tmp_path / "bad_tfjs"
    bad.mkdir()
    (bad / "model.json").write_text(json.dumps({"modelTopology": {}, "weightsManifest": [{"paths": ["gone.bin"]}]}))
    with pytest.raises(StyleportError, match="bad_tfjs: TF.js \\(wasm\\) cannot load this model"):
        rt.open(bad)


@needs_node
def test_a_dead_process_is_an_error_not_a_hang(exported):
    _, path = exported[1]
    session = runtimes.get("tfjs-node").open(path)
    try:
        session.proc.kill()
        session.proc.wait()
        with pytest.raises(StyleportError, match="no longer running|exited"):
            session.run(random_image(32, 32))
    finally:
        session.close()
