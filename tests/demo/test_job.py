"""The README's main job (`styleport demo` with no verb) on tiny models."""

from __future__ import annotations

import pytest
from PIL import Image

from styleport import checkpoints
from styleport.cli import main
from styleport.demo import job
from styleport.testing import trained_net
from tests.conftest import PHOTOS, make_net


def test_gallery_step_writes_every_photo_x_style_and_a_contact_sheet(tmp_path, capsys):
    one = checkpoints.save(tmp_path / "one.pth", make_net(seed=1), {"style_names": ["ember"]})
    duo = checkpoints.save(tmp_path / "duo.pth", make_net(num_styles=2, seed=2), {"style_names": ["tide", "moss"]})
    photos = tuple(PHOTOS[:2])
    config = job.JobConfig(out=tmp_path / "out", models=(one, duo), photos=photos, parity=False, site=False)
    assert job.run(config) == 0
    for style in ("ember", "tide", "moss"):
        for photo in photos:
            out = tmp_path / "out" / "gallery" / style / f"{photo.stem}.jpg"
            assert Image.open(out).size == Image.open(photo).size
    sheet = Image.open(tmp_path / "out" / "gallery.jpg")
    rows = sum(round(job.CELL * Image.open(p).height / Image.open(p).width) for p in photos)
    assert sheet.size == (4 * job.CELL, 24 + rows)  # photo column + 3 styles, one row per photo
    printed = capsys.readouterr().out
    assert "[1/1] stylizing 2 sample photos" in printed and "gallery.jpg" in printed


def test_bundled_defaults_exist():
    assert job.bundled_photos(), "styleport/data/samples must ship sample photos"


def test_cli_rejects_bad_runs(capsys):
    assert main(["demo", "--runs", "0"]) == 2
    assert "--runs" in capsys.readouterr().err


@pytest.mark.slow
def test_full_main_job_on_a_tiny_model(tmp_path):
    # parity checks lossy rows, which are set from trained networks (styleport/testing.py: trained_net)
    model = checkpoints.save(tmp_path / "tiny.pth", trained_net(), {"style_names": ["tiny"]})
    assert main(["demo", "-o", str(tmp_path / "out"), "--models", str(model), "--runs", "1"]) == 0
    assert (tmp_path / "out" / "parity" / "tiny" / "report.html").exists()
    assert (tmp_path / "out" / "site" / "models.json").exists()
