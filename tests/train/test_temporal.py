"""styleport.train.temporal (--temporal-weight) and --init: the synthetic motion and its loss."""

from __future__ import annotations

import math

import torch

from styleport import checkpoints
from styleport.train import temporal
from tests.train.conftest import FIXTURE_PHOTOS, TINY

MODEL = FIXTURE_PHOTOS.parents[0] / "golden" / "tiny_w025.pth"


def _image(b: int = 2, h: int = 40, w: int = 56) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    base = 127.5 + 100 * torch.sin(x / 5) * torch.cos(y / 7)  # smooth, so bilinear warps are accurate
    return base.expand(b, 3, h, w).clone()


def test_pairs_are_a_function_of_seed_and_sample_number():
    x = _image()
    a, b, c = temporal.make_pair(x, 0, 8), temporal.make_pair(x, 0, 8), temporal.make_pair(x, 0, 10)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])
    assert 0.5 < float(a[2].mean()) < 1.0  # most pixels come from inside the crop


def test_a_pure_shift_moves_pixels_by_that_shift():
    x = _image(1)
    h, w = x.shape[-2:]
    theta = torch.tensor([[[1.0, 0.0, 2 * 3 / w], [0.0, 1.0, 0.0]]])  # sample 3 px to the right
    warped, mask = temporal.warp(x, theta)
    inner = mask[0, 0].bool()
    assert torch.allclose(warped[..., :, : w - 3][..., inner[:, : w - 3]], x[..., :, 3:][..., inner[:, : w - 3]])


def test_loss_is_zero_for_a_network_that_moves_with_the_content_and_not_for_one_that_ignores_it():
    x = _image()
    cfg = temporal.WarpConfig(noise=0.0)
    x2, theta, mask = temporal.make_pair(x, 1, 0, cfg)
    follows = temporal.temporal_loss(x, x2, theta, mask)  # "net" = identity: commutes with the warp
    ignores = temporal.temporal_loss(x, x, theta, mask)  # output does not move
    assert float(follows) < 1e-6 and float(ignores) > 0.01
    assert math.isfinite(float(ignores))


def test_init_fine_tunes_and_temporal_weight_is_recorded(tmp_path, style_image, cli):
    out = tmp_path / "ft.pth"
    code, err = cli(["train", "--style", str(style_image), "--data", str(FIXTURE_PHOTOS), "-o", str(out), *TINY,
                     "--steps", "2", "--quiet", "--init", str(MODEL), "--temporal-weight", "2", "--lr", "1e-9"])  # fmt: skip
    assert code == 0, err
    meta = checkpoints.load(out).metadata["training"]
    assert meta["weights"]["temporal"] == 2.0 and meta["init"]["model"] == MODEL.name
    start, tuned = checkpoints.load(MODEL).state_dict, checkpoints.load(out).state_dict
    assert max(float((start[k].float() - tuned[k].float()).abs().max()) for k in start) < 1e-4  # lr ~0: kept
    row = (tmp_path / "ft.run" / "log.csv").read_text().splitlines()
    assert row[0].endswith(",temporal") and float(row[-1].split(",")[-1]) > 0
    code, err = cli(["train", "--style", str(style_image), "--data", str(FIXTURE_PHOTOS), "-o", str(tmp_path / "x.pth"),
                     *TINY, "--width", "0.5", "--steps", "1", "--init", str(MODEL)])  # fmt: skip
    assert code == 2 and "--init" in err and "width 0.25" in err
    code, err = cli(["train", "--style", str(style_image), "--data", str(FIXTURE_PHOTOS), "-o", str(tmp_path / "y.pth"),
                     *TINY, "--init", str(tmp_path / "missing.pth")])  # fmt: skip
    assert code == 2 and "no such model file" in err
