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
        {"name": "The Great Wave", "source": "", "license": "Public domain", "title": "", "artist": "", "year": ""},
        {"name": "night", "source": "", "license": "", "title": "", "artist": "", "year": ""},
    ]
    assert manifest.title_of(ckpt, rows) == "m"


def test_painting_title_artist_and_year(tmp_path):
    credit = "Katsushika Hokusai, The Great Wave off Kanagawa (c. 1831); scan GreatWave.png from Debian"
    meta = {"style_names": ["great_wave"], "styles": [{"name": "great_wave", "source": credit}]}
    ckpt = checkpoints.load(checkpoints.save(tmp_path / "wave.pth", make_net(), meta))
    (row,) = manifest.style_info(ckpt)
    assert (row["title"], row["artist"], row["year"]) == (
        "The Great Wave off Kanagawa",
        "Katsushika Hokusai",
        "c. 1831",
    )
    assert manifest.title_of(ckpt, [row]) == "The Great Wave off Kanagawa"
    # a bare file name as source: the model card beside the checkpoint names the painting
    meta = {"style_names": ["composition_viii"], "styles": [{"name": "composition_viii", "source": "c8.png"}]}
    ckpt = checkpoints.load(checkpoints.save(tmp_path / "c8.pth", make_net(), meta))
    assert manifest.style_info(ckpt)[0]["title"] == ""
    (tmp_path / "c8.md").write_text("| | |\n|---|---|\n| Style | Wassily Kandinsky, *Composition VIII* (1923) |\n")
    (row,) = manifest.style_info(ckpt)
    assert (row["title"], row["artist"], row["year"]) == ("Composition VIII", "Wassily Kandinsky", "1923")
    # explicit metadata keys win
    meta["styles"][0].update(painting="Komposition VIII", painter="W. Kandinsky", year="1923")
    ckpt = checkpoints.load(checkpoints.save(tmp_path / "c8.pth", make_net(), meta))
    assert manifest.style_info(ckpt)[0]["title"] == "Komposition VIII"


def test_sample_titles_are_readable():
    assert manifest.sample_title("hawaMahal") == "Hawa Mahal"
    assert manifest.sample_title("machu_picchu") == "Machu Picchu"
    assert manifest.sample_title("colosseum") == "Colosseum"


def test_contract_reads_tfjs_signature_names(tmp_path):
    model_json = tmp_path / "model.json"
    sig = {"inputs": {"image": {"name": "image:0"}, "style_weights": {"name": "style_weights:0"}}, "outputs": {}}
    model_json.write_text(json.dumps({"signature": sig}))
    c = manifest.contract(2, ["onnx", "tfjs"], model_json)
    assert c["tfjs"] == {"layout": "NHWC", "image": "image", "style_weights": "style_weights", "output": None}
    assert c["onnx"]["style_weights"] == "style_weights"
    assert "tfjs" not in manifest.contract(1, ["onnx"], None)
