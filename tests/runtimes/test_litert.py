"""The LiteRT runtime: dynamic H/W within one session, style weights, errors, what it reports."""

from __future__ import annotations

import numpy as np
import pytest

from styleport import checkpoints
from styleport.errors import StyleportError, UsageError
from styleport.export import base
from styleport.export.base import ExportRequest
from styleport.precision import Precision
from styleport.runtimes import base as runtimes
from styleport.runtimes.base import RuntimeUnavailable
from tests.conftest import make_net, random_image, torch_run

pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{num_styles: (model, .tflite path)} for width-0.25 nets with one and two styles."""
    folder = tmp_path_factory.mktemp("litert")
    out = {}
    for styles in (1, 2):
        ckpt = checkpoints.load(checkpoints.save(folder / f"s{styles}.pth", make_net(0.25, styles, seed=30 + styles)))
        model = ckpt.build()
        path = folder / f"s{styles}.tflite"
        base.get("tflite").export(model, ckpt, path, ExportRequest("tflite", Precision.FP32))
        out[styles] = (model, path)
    return out


def test_registered_and_available():
    rt = runtimes.get("litert")
    assert rt.availability() is None
    assert "tflite" in rt.formats
    assert base.get("tflite").runtime == "litert"


def test_one_session_runs_many_sizes(exported):
    model, path = exported[1]
    with runtimes.get("litert").open(path) as session:
        for h, w in ((32, 48), (37, 53), (64, 40), (32, 48)):  # back to the first size: resize again
            img = random_image(h, w, seed=h * w)
            got = session.run(img)
            assert got.shape == (h, w, 3) and got.dtype == np.float32
            assert np.abs(got - torch_run(model, img)).max() < 0.05


def test_output_is_a_copy_not_the_interpreter_buffer(exported):
    _, path = exported[1]
    with runtimes.get("litert").open(path) as session:
        first = session.run(random_image(32, 32, seed=1))
        kept = first.copy()
        session.run(random_image(32, 32, seed=2))
        assert np.array_equal(first, kept)


def test_style_weights(exported):
    model, path = exported[2]
    img = random_image(36, 44, seed=3)
    with runtimes.get("litert").open(path) as session:
        mix = np.array([0.25, 0.75], np.float32)
        assert np.abs(session.run(img, mix) - torch_run(model, img, mix)).max() < 0.05
        np.testing.assert_array_equal(session.run(img), session.run(img, np.array([1.0, 0.0], np.float32)))
        with pytest.raises(UsageError, match="expects 2 style weights, got 3"):
            session.run(img, np.ones(3, np.float32))


def test_single_style_model_rejects_style_weights(exported):
    _, path = exported[1]
    with runtimes.get("litert").open(path) as session:
        with pytest.raises(UsageError, match="single-style"):
            session.run(random_image(32, 32), np.array([0.5, 0.5], np.float32))


def test_reports_threads_and_kernels(exported):
    _, path = exported[1]
    with runtimes.get("litert").open(path, threads=1) as session:
        assert session.info.threads == 1 and session.info.device == "cpu"
        assert "XNNPACK" in session.info.provider


def test_bad_files_and_options(exported, tmp_path):
    rt = runtimes.get("litert")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer at all" * 10)
    with pytest.raises(StyleportError, match="junk.tflite: LiteRT cannot load"):
        rt.open(junk)
    with pytest.raises(StyleportError, match="no such .tflite file"):
        rt.open(tmp_path / "missing.tflite")
    with pytest.raises(RuntimeUnavailable, match="cpu only"):
        rt.open(exported[1][1], device="cuda")
    with pytest.raises(UsageError, match="unknown options"):
        rt.open(exported[1][1], delegate="gpu")
    with rt.open(exported[1][1]) as session:
        with pytest.raises(ValueError, match=r"\(H,W,3\)"):
            session.run(np.zeros((3, 32, 32), np.float32))


def test_metadata_is_readable_without_tensorflow(exported, tmp_path):
    from styleport.runtimes.litert import read_metadata

    meta = read_metadata(exported[2][1])
    assert meta["format"] == "tflite" and meta["architecture"]["num_styles"] == 2
    assert [i["name"] for i in meta["io"]["inputs"]] == ["image", "style_weights"]
    assert read_metadata(exported[2][1], name="no_such_entry") is None
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 3)
    with pytest.raises(StyleportError, match="junk.tflite: not a TFLite flatbuffer"):
        read_metadata(junk)
    junk.write_bytes(b"\x04\x00\x00\x00TFL3" + b"\xff" * 8)  # right identifier, garbage tables
    with pytest.raises(StyleportError, match="junk.tflite: unreadable TFLite metadata"):
        read_metadata(junk)
