"""Training data: any folder tree of images -> random square crops, deterministic and resumable.

Order and augmentation are pure functions of (seed, global sample number): the sampler walks a
seeded permutation per epoch, and every sample's crop/flip comes from a generator seeded with its
own number. So a run resumed at step k (or split over DDP ranks, or over DataLoader workers)
sees exactly the samples an uninterrupted run would, with no worker RNG state to save.

Files that cannot be opened are dropped at scan time; files that fail to decode later are replaced
by the next readable file in the permutation. Both are counted and reported, never fatal.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from PIL import Image, ImageOps

from styleport.errors import UsageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm")
MIX = 0x9E3779B97F4A7C15  # golden-ratio constant to spread seeds


@dataclasses.dataclass(frozen=True)
class DataConfig:
    image_size: int = 256
    max_scale: float = 1.25  # the short side is resized to image_size * U(1, max_scale) before the crop
    flip: bool = True


def sample_seed(seed: int, number: int) -> int:
    return (seed * MIX + number * 0x632BE59BD9B4E5 + 1) % (2**63)


def decode(path: Path, min_side: int) -> Image.Image:
    """RGB image, EXIF-rotated, with JPEG draft decoding down to >= ``min_side`` on the short side."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            if im.format == "JPEG":
                scale = min(im.size) / max(min_side, 1)
                if scale >= 2:
                    im.draft("RGB", (math.ceil(im.size[0] / scale), math.ceil(im.size[1] / scale)))
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "P", "PA"):
                rgba = im.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im = Image.alpha_composite(background, rgba)
            return im.convert("RGB")


def random_crop(img: Image.Image, config: DataConfig, gen: torch.Generator) -> torch.Tensor:
    """Resize short side to size*U(1,max_scale), random size x size crop, random flip -> (3,S,S) float 0..255."""
    size = config.image_size
    u = torch.rand(4, generator=gen).tolist()
    short = size * (1.0 + (config.max_scale - 1.0) * u[0])
    scale = short / min(img.size)
    w, h = max(size, round(img.size[0] * scale)), max(size, round(img.size[1] * scale))
    img = img.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=2.0)
    left, top = int(u[1] * (w - size + 1)), int(u[2] * (h - size + 1))
    img = img.crop((left, top, left + size, top + size))
    if config.flip and u[3] < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(size, size, 3)
    return t.permute(2, 0, 1).float()  # (H,W,3) uint8 -> (3,H,W) float32


def center_crop(img: Image.Image, size: int) -> torch.Tensor:
    """Deterministic preview crop: short side -> size, centre square -> (3,S,S) float 0..255."""
    img = ImageOps.fit(img, (size, size), Image.Resampling.BICUBIC)
    t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(size, size, 3)
    return t.permute(2, 0, 1).float()  # (H,W,3) -> (3,H,W)


def scan(root: str | os.PathLike) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Sorted readable image files under ``root`` and the (path, reason) of those skipped."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: training data must be a directory of images")
    good: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name.startswith("."):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((path, "not an image file name"))
            continue
        try:
            with Image.open(path) as im:
                w, h = im.size
            if min(w, h) < 16:
                skipped.append((path, f"too small ({w}x{h})"))
                continue
        except Exception as exc:  # noqa: BLE001 - any unreadable file is skipped, the run goes on
            skipped.append((path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
            continue
        good.append(path)
    if not good:
        raise UsageError(f"{root}: no readable images found ({len(skipped)} files skipped)")
    return good, skipped


class ImageFolder(torch.utils.data.Dataset):
    """Index by (file index, sample number) -> (image (3,S,S), number of files that failed to decode)."""

    def __init__(self, files: list[Path], config: DataConfig, seed: int) -> None:
        self.files, self.config, self.seed = files, config, seed

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, int]:
        index, number = key
        gen = torch.Generator().manual_seed(sample_seed(self.seed, number))
        failures = 0
        for attempt in range(len(self.files)):
            path = self.files[(index + attempt) % len(self.files)]
            try:
                img = decode(path, self.config.image_size)
            except Exception:  # noqa: BLE001 - a bad file is replaced by the next one, and counted
                failures += 1
                continue
            return random_crop(img, self.config, gen), failures
        raise UsageError("no training image could be decoded")


class ResumableSampler(torch.utils.data.Sampler):
    """Yields (file index, global sample number) for one rank, starting at sample ``start``.

    Global sample n belongs to epoch n // N at position n % N of that epoch's seeded permutation.
    Rank r of W takes samples [step*B*W + r*B, step*B*W + (r+1)*B) of each step.
    """

    def __init__(self, num_files: int, seed: int, batch: int, start_step: int, rank: int = 0, world: int = 1):
        self.n, self.seed, self.batch = num_files, seed, batch
        self.start_step, self.rank, self.world = start_step, rank, world
        self._perm: tuple[int, torch.Tensor] | None = None

    def permutation(self, epoch: int) -> torch.Tensor:
        if self._perm is None or self._perm[0] != epoch:
            gen = torch.Generator().manual_seed(sample_seed(self.seed, -1 - epoch))
            self._perm = (epoch, torch.randperm(self.n, generator=gen))
        return self._perm[1]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        step = self.start_step
        while True:
            base = step * self.batch * self.world + self.rank * self.batch
            for number in range(base, base + self.batch):
                yield int(self.permutation(number // self.n)[number % self.n]), number
            step += 1


def collate(items: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, int]:
    """[(3,S,S), failures] * B -> ((B,3,S,S), total failures)."""
    return torch.stack([t for t, _ in items]), sum(f for _, f in items)


def make_loader(
    files: list[Path],
    config: DataConfig,
    seed: int,
    batch: int,
    start_step: int,
    workers: int,
    rank: int = 0,
    world: int = 1,
) -> Iterator[tuple[torch.Tensor, int]]:
    """An endless iterator of (batch (B,3,S,S) float 0..255, decode failures) from ``start_step``."""
    sampler = ResumableSampler(len(files), seed, batch, start_step, rank, world)
    loader = torch.utils.data.DataLoader(
        ImageFolder(files, config, seed),
        batch_size=batch,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers > 0 else None,
        generator=torch.Generator().manual_seed(seed),  # its base seed must not draw from the global RNG
    )
    return iter(loader)
