from __future__ import annotations

import shutil

import pytest
import torch
from PIL import Image

from styleport.errors import UsageError
from styleport.train import data
from tests.train.conftest import FIXTURE_PHOTOS


@pytest.fixture()
def folder(tmp_path):
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    for i, src in enumerate(sorted(FIXTURE_PHOTOS.glob("*.jpg"))[:3]):
        shutil.copy(src, (root / "sub" if i == 0 else root) / src.name)
    Image.new("RGBA", (40, 30), (255, 0, 0, 128)).save(root / "alpha.png")
    Image.new("L", (50, 50), 90).save(root / "gray.webp")
    (root / "notes.txt").write_text("not an image")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    Image.new("RGB", (8, 8)).save(root / "tiny.png")
    return root


def test_scan_skips_and_counts_bad_files(folder):
    good, skipped = data.scan(folder)
    assert len(good) == 5 and any(p.parent.name == "sub" for p in good)
    reasons = {p.name: why for p, why in skipped}
    assert set(reasons) == {"notes.txt", "broken.jpg", "tiny.png"}
    assert "too small" in reasons["tiny.png"]


def test_scan_errors(tmp_path):
    with pytest.raises(UsageError, match="must be a directory"):
        data.scan(tmp_path / "missing")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(UsageError, match="no readable images"):
        data.scan(tmp_path)


def _take(loader, steps):
    return [next(loader) for _ in range(steps)]


def test_loader_is_deterministic_and_resumable(folder):
    files, _ = data.scan(folder)
    cfg = data.DataConfig(image_size=32)
    straight = _take(data.make_loader(files, cfg, seed=5, batch=3, start_step=0, workers=0), 4)
    resumed = _take(data.make_loader(files, cfg, seed=5, batch=3, start_step=2, workers=0), 2)
    assert straight[0][0].shape == (3, 3, 32, 32) and straight[0][0].dtype == torch.float32
    assert 0 <= straight[0][0].min() and straight[0][0].max() <= 255
    for (a, _), (b, _) in zip(straight[2:], resumed, strict=True):
        assert torch.equal(a, b)
    other = _take(data.make_loader(files, cfg, seed=6, batch=3, start_step=0, workers=0), 1)
    assert not torch.equal(other[0][0], straight[0][0])


def test_workers_give_the_same_batches(folder):
    files, _ = data.scan(folder)
    cfg = data.DataConfig(image_size=32)
    a = _take(data.make_loader(files, cfg, seed=1, batch=2, start_step=1, workers=0), 3)
    b = _take(data.make_loader(files, cfg, seed=1, batch=2, start_step=1, workers=2), 3)
    assert all(torch.equal(x, y) for (x, _), (y, _) in zip(a, b, strict=True))


def test_ranks_split_each_global_batch():
    whole = data.ResumableSampler(7, seed=0, batch=4, start_step=0)
    ranks = [data.ResumableSampler(7, seed=0, batch=2, start_step=0, rank=r, world=2) for r in range(2)]
    it_whole, its = iter(whole), [iter(s) for s in ranks]
    for _ in range(5):  # spans several epochs of 7 files
        expected = [next(it_whole) for _ in range(4)]
        got = [next(its[0]) for _ in range(2)] + [next(its[1]) for _ in range(2)]
        assert got == expected


def test_each_epoch_is_a_permutation():
    sampler = iter(data.ResumableSampler(5, seed=2, batch=5, start_step=0))
    e0 = [next(sampler)[0] for _ in range(5)]
    e1 = [next(sampler)[0] for _ in range(5)]
    assert sorted(e0) == sorted(e1) == list(range(5)) and e0 != e1


def test_file_that_fails_to_decode_is_replaced_and_counted(folder):
    files, _ = data.scan(folder)
    index = next(i for i, p in enumerate(files) if p.suffix == ".jpg")
    files[index].write_bytes(files[index].read_bytes()[:2000])  # truncated after the scan
    dataset = data.ImageFolder(files, data.DataConfig(image_size=32), seed=0)
    img, failures = dataset[(index, 0)]
    assert failures == 1 and img.shape == (3, 32, 32)
