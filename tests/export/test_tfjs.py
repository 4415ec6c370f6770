"""TF.js export at every precision, verified in Node (tfjs wasm backend) against torch at other sizes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from styleport import checkpoints
from styleport.errors import UsageError
from styleport.export import base, pipeline
from styleport.export.base import ExportRequest
from styleport.export.verify import ParityError, verify_artifact
from styleport.precision import Precision
from styleport.runtimes.tfjs_node import unavailable_reason
from styleport.testing import trained_net
from styleport.tolerances import lookup
from tests.conftest import PHOTOS

pytest.importorskip("tensorflow")
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")  # see styleport/export/tfjs.py
pytest.importorskip("tensorflowjs")

SIZES = ((40, 56), (37, 53))  # 37x53 is not a multiple of 4
PRECISIONS = (Precision.FP32, Precision.FP16, Precision.UINT8)
NODE_MISSING = unavailable_reason()
needs_node = pytest.mark.skipif(NODE_MISSING is not None, reason=f"TF.js Node runtime unavailable: {NODE_MISSING}")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(model, checkpoint, {precision: artifact}) for the trained great_wave net, exported once."""
    folder = tmp_path_factory.mktemp("tfjs")
    net = trained_net()  # lossy rows are set from trained networks (styleport/testing.py)
    ckpt = checkpoints.load(checkpoints.save(folder / "tiny.pth", net, {"style_names": ["tiny"], "license": "CC0"}))
    model = ckpt.build()
    exporter = base.get("tfjs")
    artifacts = {}
    for p in PRECISIONS:
        request = ExportRequest("tfjs", p, calibration_images=tuple(PHOTOS[:2]))
        artifacts[p] = exporter.export(model, ckpt, folder / exporter.filename("tiny", p), request)
    return model, ckpt, artifacts


def test_folder_layout_and_metadata(tiny):
    _, _, artifacts = tiny
    for p, art in artifacts.items():
        files = sorted(f.name for f in art.path.iterdir())
        assert "model.json" in files and "styleport.json" in files and any(f.endswith(".bin") for f in files)
        meta = json.loads((art.path / "styleport.json").read_text())
        assert meta["precision"] == p.value and meta["style_names"] == ["tiny"] and meta["license"] == "CC0"
        model_json = json.loads((art.path / "model.json").read_text())
        assert model_json["userDefinedMetadata"]["styleport"] == meta
        assert set(model_json["signature"]["inputs"]) == {"image"}
        assert set(model_json["signature"]["outputs"]) == {"stylized"}
        assert art.size_bytes == sum(f.stat().st_size for f in art.path.iterdir())
        assert pipeline.is_artifact(art.path)  # a later export (parity --export-dir, stale) may replace it


def test_weights_are_stored_at_the_requested_precision(tiny):
    _, _, artifacts = tiny

    def dtypes(p):
        manifest = json.loads((artifacts[p].path / "model.json").read_text())["weightsManifest"]
        return {w.get("quantization", {}).get("dtype", w["dtype"]) for g in manifest for w in g["weights"]}

    assert "float16" in dtypes(Precision.FP16) and "uint8" in dtypes(Precision.UINT8)
    assert "float16" not in dtypes(Precision.FP32) and "uint8" not in dtypes(Precision.FP32)
    fp32, fp16, uint8 = (artifacts[p].size_bytes for p in PRECISIONS)
    assert fp16 < 0.65 * fp32 and uint8 < 0.45 * fp32


@needs_node
@pytest.mark.parametrize("precision", PRECISIONS, ids=str)
def test_every_precision_verifies_in_node(tiny, precision):
    model, _, artifacts = tiny
    result = verify_artifact(artifacts[precision].path, "tfjs", precision, model, "tfjs-node", SIZES, PHOTOS[2:4])
    assert result.status == "passed", result.summary()
    assert [c.size for c in result.cases] == [*SIZES, SIZES[0]]  # each size, then the dark frame at the first
    assert result.min_psnr >= lookup("tfjs", precision).min_psnr
    assert result.info.device == "node-wasm"


@needs_node
def test_tampered_shard_fails_verification(tiny, tmp_path):
    import shutil

    model, _, artifacts = tiny
    broken = tmp_path / "broken_tfjs"
    shutil.copytree(artifacts[Precision.FP32].path, broken)
    shard = next(broken.glob("*.bin"))
    data = shard.read_bytes()
    bias = model.deconv3.conv2d.bias.detach().numpy().astype("<f4").tobytes()
    assert data.count(bias) == 1
    shard.write_bytes(data.replace(bias, (model.deconv3.conv2d.bias.detach().numpy() - 40).astype("<f4").tobytes()))
    with pytest.raises(ParityError, match=r"broken_tfjs: tfjs fp32 does not match .*PSNR"):
        verify_artifact(broken, "tfjs", Precision.FP32, model, "tfjs-node", SIZES)


@needs_node
def test_two_style_network_through_the_pipeline(tmp_path):
    """``export --to tfjs`` path: folder written atomically, verified with every style case."""
    net = trained_net(num_styles=2, seed=22)
    ckpt = checkpoints.load(checkpoints.save(tmp_path / "two.pth", net, {"style_names": ["a", "b"]}))
    out = tmp_path / "out"
    jobs = pipeline.plan(ckpt, ["tfjs"], out, [Precision.UINT8])
    (result,) = pipeline.run(ckpt, jobs, verify_sizes=SIZES)
    assert result.verification.status == "passed", result.summary()
    assert {c.style for c in result.verification.cases} == {"style 0", "style 1", "mix"}
    assert result.artifact.path == out / "two_uint8_tfjs" and (result.artifact.path / "model.json").is_file()
    assert sorted(p.name for p in out.iterdir()) == [
        "two_uint8_tfjs",
        "two_uint8_tfjs.styleport.json",
    ]  # no temp folders
    signature = json.loads((out / "two_uint8_tfjs" / "model.json").read_text())["signature"]["inputs"]
    assert signature["style_weights"]["tensorShape"]["dim"][1]["size"] == "2"


def test_validate_rejects_bad_requests():
    exporter = base.get("tfjs")
    with pytest.raises(UsageError, match="tfjs does not support precision int8"):
        exporter.validate(ExportRequest("tfjs", Precision.INT8))
    with pytest.raises(UsageError, match="shard_mb"):
        exporter.validate(ExportRequest("tfjs", Precision.FP32, options={"shard_mb": "lots"}))
    exporter.validate(ExportRequest("tfjs", Precision.FP32, options={"shard_mb": "2"}))
    assert np.isfinite(lookup("tfjs", Precision.UINT8).min_psnr)


def test_unsupported_op_is_named(tmp_path, unsupported_op_saved_model):
    from styleport.errors import StyleportError
    from styleport.export.tfjs import convert

    with pytest.raises(StyleportError, match="TF.js conversion failed at fp32: Unsupported Ops .*Igamma"):
        convert(unsupported_op_saved_model, tmp_path / "out_tfjs", Precision.FP32, {}, 4)
