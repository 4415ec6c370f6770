"""End to end through the CLI: train on the fixture photos, then stylize with the result."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from styleport import checkpoints
from styleport.cli import build_parser
from styleport.errors import UsageError
from styleport.train.command import build_config
from tests.train.conftest import FIXTURE_PHOTOS, TINY, make_style, run_cli


def test_training_run_learns_and_the_model_stylizes(tmp_path, style_image):
    out = tmp_path / "m.pth"
    run_cli(["train", "--style", str(style_image), "--data", str(FIXTURE_PHOTOS), "-o", str(out), *TINY,
             "--steps", "36", "--log-every", "4", "--preview-every", "18", "--checkpoint-every", "18",
             "--style-license", "CC0-1.0"])  # fmt: skip
    run = tmp_path / "m.run"
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(4, 37, 4))
    first, last = sum(r["total"] for r in rows[:2]), sum(r["total"] for r in rows[-2:])
    assert last < 0.8 * first, [r["total"] for r in rows]
    assert sorted(p.name for p in (run / "previews").iterdir()) == ["step_000018.png", "step_000036.png"]
    assert Image.open(run / "previews" / "step_000036.png").size == (4 * 64, 2 * 64)
    assert Image.open(run / "loss.png").size == (720, 420)
    ckpt = checkpoints.load(out)
    assert ckpt.training_state is None and ckpt.config.width == 0.25
    assert ckpt.metadata["style_names"] == ["stripes"]
    assert ckpt.metadata["styles"] == [{"name": "stripes", "source": "stripes.png", "license": "CC0-1.0"}]
    assert ckpt.metadata["training"]["steps"] == 36 and ckpt.metadata["training"]["final_losses"]["total"] > 0
    assert checkpoints.load(run / "checkpoint.pth").training_state["step"] == 36
    photo = sorted(FIXTURE_PHOTOS.glob("*.jpg"))[0]
    run_cli(["stylize", str(out), str(photo), "-o", str(tmp_path / "s.png"), "--size", "64"])
    assert max(Image.open(tmp_path / "s.png").size) == 64


def test_multi_style_network_mixes_styles_in_stylize(tmp_path):
    styles = [make_style(tmp_path / "a.png", 0), make_style(tmp_path / "b.png", 1)]
    out = tmp_path / "two.pth"
    run_cli(["train", "--style", *map(str, styles), "--style-name", "alpha", "beta", "--data", str(FIXTURE_PHOTOS),
             "-o", str(out), *TINY, "--steps", "6", "--log-every", "3", "--preview-every", "6"])  # fmt: skip
    ckpt = checkpoints.load(out)
    assert ckpt.config.num_styles == 2 and ckpt.style_names == ["alpha", "beta"]
    assert ckpt.state_dict["in1.weight"].shape[0] == 2
    # The preview grid has a row per style.
    assert Image.open(tmp_path / "two.run" / "previews" / "step_000006.png").size == (4 * 64, 3 * 64)
    photo = sorted(FIXTURE_PHOTOS.glob("*.jpg"))[1]
    for extra, name in ((["--style-weights", "0.5,0.5"], "mix.png"), (["--style-index", "1"], "b.png")):
        run_cli(["stylize", str(out), str(photo), "-o", str(tmp_path / name), "--size", "48", *extra])
    mix, b = Image.open(tmp_path / "mix.png"), Image.open(tmp_path / "b.png")
    assert mix.size == b.size and mix.tobytes() != b.tobytes()


def _args(*extra):
    return build_parser().parse_args(["train", "--style", "s.png", "--data", "d", "-o", "out/m.pth", *extra])


def test_presets_and_flags_precedence():
    cfg = build_config(_args("--preset", "quick", "--steps", "7"))
    assert cfg.image_size == 128 and cfg.width == 0.5 and cfg.steps == 7
    assert cfg.run_dir.endswith("m.run")
    paper = build_config(_args("--preset", "paper"))
    assert (paper.image_size, paper.batch_size, paper.lr, paper.steps) == (256, 4, 1e-3, 40000)
    layers = build_config(_args("--style-layers", "relu1_2, relu3_3", "--no-channels-last"))
    assert layers.style_layers == ("relu1_2", "relu3_3") and layers.channels_last is False


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--image-size", "30"], "multiple of 4"),
        (["--style-name", "a", "b"], "--style-name"),
        (["--resume", "nowhere.pth"], "no checkpoint"),
        (["--steps", "0"], "--steps"),
    ],
)
def test_bad_settings_are_usage_errors(extra, message):
    with pytest.raises(UsageError, match=message):
        build_config(_args(*extra))


def test_missing_style_image_is_one_clear_line(tmp_path, cli):
    code, err = cli(["train", "--style", str(tmp_path / "nope.png"), "--data", str(FIXTURE_PHOTOS),
                     "-o", str(tmp_path / "m.pth"), *TINY, "--steps", "1"])  # fmt: skip
    assert code == 1
    assert err.strip().splitlines() == [f"styleport: error: {tmp_path / 'nope.png'}: no such file"]


def test_unknown_vgg_layer_is_rejected(tmp_path, style_image, cli):
    code, err = cli(["train", "--style", str(style_image), "--data", str(FIXTURE_PHOTOS), "-o", str(tmp_path / "m.pth"),
                     *TINY, "--content-layers", "relu9_9", "--steps", "1"])  # fmt: skip
    assert code == 2 and "relu9_9" in err
    assert not (tmp_path / "m.pth").exists()
