"""``styleport evaluate`` and the distances behind it: cases with known answers, the report, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from styleport import checkpoints
from styleport.cli import main
from styleport.evaluate import QualityMeter
from styleport.images import pil_to_tensor, tensor_to_pil
from styleport.optimize_command import resize_long
from styleport.stylize import Stylizer
from styleport.train.vgg import load_caffe_vgg19
from tests.conftest import PHOTOS, make_net
from tests.train.conftest import make_style


@pytest.fixture(scope="module")
def vgg():
    return load_caffe_vgg19()


@pytest.fixture()
def cache(tmp_path, monkeypatch, vgg):
    """A fresh cache (the optimization results) that still holds the decoded VGG19."""
    from styleport.train.vgg import CACHE_NAME, cache_dir

    decoded = cache_dir() / CACHE_NAME
    fresh = tmp_path / "cache"
    fresh.mkdir()
    if decoded.is_file():
        (fresh / CACHE_NAME).symlink_to(decoded)
    monkeypatch.setenv("STYLEPORT_CACHE", str(fresh))
    return fresh


def test_known_distances(vgg):
    photo = pil_to_tensor(Image.open(PHOTOS[0]).convert("RGB").resize((48, 40)))
    style = pil_to_tensor(Image.open(PHOTOS[1]).convert("RGB").resize((48, 40)))
    meter = QualityMeter(style, vgg)
    itself = meter.measure(photo, photo)
    assert all(v == pytest.approx(1.0, abs=1e-6) for v in itself["style"].values())  # the photo: 1 by definition
    assert all(v == pytest.approx(0.0, abs=1e-6) for v in itself["content"].values())
    painting = meter.measure(style, photo)
    assert all(v < 1e-5 for v in painting["style"].values()), painting  # the painting itself: 0
    assert all(0.3 < v < 2 for v in painting["content"].values())  # another picture: far from the photo


def _model_and_photos(tmp_path, n_photos=2):
    model = checkpoints.save(
        tmp_path / "tiny.pth", make_net(), {"style_names": ["tiny"], "training": {"style_size": 40}}
    )
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in PHOTOS[:n_photos]:
        resize_long(Image.open(p).convert("RGB"), 48).save(folder / f"{p.stem}.png")
    return model, folder, make_style(tmp_path / "stripes.png")


def test_report_files_and_numbers(tmp_path, cache, vgg):
    model, folder, style = _model_and_photos(tmp_path)
    out = tmp_path / "report"
    argv = ["evaluate", str(model), "--photos", str(folder), "--style", str(style), "--size", "32",
            "--optimize-steps", "3", "--device", "cpu", "-o", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        ".styleport-output",
        "report.html",
        "report.json",
        "report.md",
        "sheet.jpg",
    ]
    report = json.loads((out / "report.json").read_text())
    assert report["style_size"] == 40  # from the checkpoint's training metadata
    entry = report["styles"][0]
    assert [r["photo"] for r in entry["photos"]] == sorted(p.name for p in folder.iterdir())
    # recompute the network's numbers for the first photo independently
    photo = pil_to_tensor(resize_long(Image.open(sorted(folder.iterdir())[0]).convert("RGB"), 32))
    net_out = pil_to_tensor(tensor_to_pil(Stylizer(checkpoints.load(model).build(), device="cpu").run_tensor(photo)))
    expected = QualityMeter(pil_to_tensor(resize_long(Image.open(style).convert("RGB"), 40)), vgg).measure(
        net_out, photo
    )
    for kind in ("style", "content"):
        for layer, value in expected[kind].items():
            assert entry["photos"][0]["network"][kind][layer] == pytest.approx(value, rel=1e-5)
    assert set(entry["optimized"]["style"]) == {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"}
    assert len(list((cache / "optimize").glob("*.png"))) == 2  # one cached reference per photo
    assert "relu4_1" in (out / "report.md").read_text() and "sheet.jpg" in (out / "report.html").read_text()
    sheet = Image.open(out / "sheet.jpg")
    assert sheet.height > 2 * 32 and sheet.width > 4 * 20


def _refused(argv, tmp_path, capsys, code):
    before = sorted(tmp_path.rglob("*"))
    assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("styleport: error: "), err
    assert sorted(tmp_path.rglob("*")) == before  # no report folder, nothing half-written
    return err[0]


def test_bad_input(tmp_path, cache, capsys):
    model, folder, style = _model_and_photos(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no photos here")
    out = str(tmp_path / "report")
    assert "empty: no photos" in _refused(["evaluate", str(model), "--photos", str(empty), "--style", str(style),
                                           "-o", out], tmp_path, capsys, 2)  # fmt: skip
    not_model = tmp_path / "photo.pth"
    not_model.write_bytes(b"\x89PNG not a model")
    assert "photo.pth" in _refused(["evaluate", str(not_model), "--style", str(style), "-o", out], tmp_path, capsys, 1)
    line = _refused(["evaluate", str(model), "--photos", str(folder), "-o", out], tmp_path, capsys, 2)
    assert "--style" in line
    line = _refused(["evaluate", str(model), "--photos", str(folder), "--style", str(style), str(style), "-o", out],
                    tmp_path, capsys, 2)  # fmt: skip
    assert "1 style(s), got 2" in line


def test_trainer_logs_quality_rows(tmp_path, monkeypatch):
    from tests.train.conftest import FIXTURE_PHOTOS, TINY

    monkeypatch.setenv("STYLEPORT_CACHE", str(tmp_path / "cache"))
    style = make_style(tmp_path / "stripes.png")
    threads = torch.get_num_threads()
    try:
        argv = ["train", "--style", str(style), "--data", str(FIXTURE_PHOTOS), "-o", str(tmp_path / "m.pth"), *TINY,
                "--steps", "3", "--eval-every", "2", "--eval-photos", str(PHOTOS[0]), "--quiet"]  # fmt: skip
        assert main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    rows = [json.loads(line) for line in (tmp_path / "m.run" / "log.jsonl").read_text().splitlines()]
    evals = [r for r in rows if r.get("kind") == "eval"]
    assert [r["step"] for r in evals] == [2, 3]  # every 2 steps and at the end
    scores = evals[0]["styles"]["stripes"]
    assert set(scores["style"]) == {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"}
    assert all(v > 0 for v in scores["style"].values()) and set(scores["content"]) == {"relu2_2", "relu4_2"}
    assert "kind" not in (tmp_path / "m.run" / "log.csv").read_text()
