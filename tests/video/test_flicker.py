"""styleport.video.flicker: the score follows motion, and stability training lowers it."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from styleport.video.flicker import flicker
from styleport.video.synthetic import frames
from tests.conftest import PHOTOS
from tests.train.conftest import FIXTURE_PHOTOS, TINY, make_style
from tests.video.conftest import MODEL


def _moving(count: int = 8) -> list[np.ndarray]:
    with Image.open(PHOTOS[0]) as img:
        return list(frames(img, (96, 72), count))


def test_score_follows_the_source_motion():
    src = _moving()
    same = flicker(src, src)
    assert same["stylized"] == same["source"] and same["pairs"] == 7 and same["valid_fraction"] > 0.8
    inverted = flicker(src, [255 - f for f in src])  # moves exactly with the content
    assert abs(inverted["stylized"] - same["source"]) < 1e-3
    frozen = flicker(src, [src[0]] * len(src))  # does not follow the motion: the warp makes it differ
    assert frozen["stylized"] > 2 * same["source"]
    rng = np.random.default_rng(0)
    noisy = [np.clip(f + rng.normal(0, 12, f.shape), 0, 255).astype(np.uint8) for f in src]  # new noise per frame
    assert flicker(src, noisy)["stylized"] > same["source"] + 5
    still = [src[0]] * 4  # no motion: the stylized score is the frame-to-frame change itself
    assert flicker(still, still)["source"] == 0.0


def test_stability_training_lowers_flicker(tmp_path, clip, cli):
    """Fine-tuning the same network for the same steps, with and without --temporal-weight."""
    style = make_style(tmp_path / "stripes.png")
    scores = {}
    for weight in ("0", "3"):
        model = tmp_path / f"w{weight}.pth"
        code, _, err = cli("train", "--style", style, "--data", FIXTURE_PHOTOS, "-o", model, *TINY, "--steps", "12",
                           "--quiet", "--init", MODEL, "--temporal-weight", weight)  # fmt: skip
        assert code == 0, err
        report = tmp_path / f"w{weight}.json"
        code, _, err = cli("stylize", model, clip, "-o", tmp_path / f"w{weight}.mp4", "--report", report)
        assert code == 0, err
        scores[weight] = json.loads(report.read_text())["flicker"]["stylized"]
    assert scores["3"] < 0.5 * scores["0"], scores
