"""Manifest entries built from checkpoint metadata and converted files."""

from __future__ import annotations

import json
from pathlib import Path

from styleport import checkpoints
from styleport.demo import manifest
from tests.conftest import make_net


def test_model_ids_are_url_safe_and_unique():
    taken: set[str] = set()
    assert manifest.model_id(Path("Starry Night (v2).pth"), taken) == "starry-night-v2"
    assert manifest.model_id(Path("starry_night_v2.pth"), taken) == "starry-night-v2-2"
    assert manifest.model_id(Path("___.pth"), taken) == "model"


def test_style_rows_come_from_metadata(tmp_path):
    meta = {"style_names": ["wave", "night"], "styles": [{"name": "The Great Wave", "license": "Public domain"}]}
    ckpt = checkpoints.load(checkpoints.save(tmp_path / "m.pth", make_net(num_styles=2), meta))
    rows = manifest.style_info(ckpt)
    assert rows == [
        {"name": "The Great Wave", "source": "", "license": "Public domain"},
        {"name": "night", "source": "", "license": ""},
    ]
    assert manifest.title_of(ckpt, rows) == "m"


def test_contract_reads_tfjs_signature_names(tmp_path):
    model_json = tmp_path / "model.json"
    sig = {"inputs": {"image": {"name": "image:0"}, "style_weights": {"name": "style_weights:0"}}, "outputs": {}}
    model_json.write_text(json.dumps({"signature": sig}))
    c = manifest.contract(2, ["onnx", "tfjs"], model_json)
    assert c["tfjs"] == {"layout": "NHWC", "image": "image", "style_weights": "style_weights", "output": None}
    assert c["onnx"]["style_weights"] == "style_weights"
    assert "tfjs" not in manifest.contract(1, ["onnx"], None)
