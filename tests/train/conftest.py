"""Trainer test helpers: tiny style images, a tiny training command line, the VGG cache in tmp."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

FIXTURE_PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"

# 64 px crops, a quarter-width network and a random VGG trunk cut at relu3_1: ~0.1-0.5 s per step.
TINY = [
    "--image-size", "64", "--style-size", "64", "--width", "0.25", "--batch-size", "2",
    "--vgg-weights", "random", "--style-layers", "relu1_1,relu2_1,relu3_1", "--content-layers", "relu2_1",
    "--style-weight", "1", "--content-weight", "0.1", "--lr", "1e-2", "--workers", "0", "--threads", "1",
    "--preview-size", "64",
]  # fmt: skip


def make_style(path: Path, seed: int = 0) -> Path:
    """A colourful striped 96x80 image: a strong, easy style."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(80).view(80, 1, 1).float()
    x = torch.arange(96).view(1, 96, 1).float()
    phase = torch.rand(3, generator=gen) * 6.28
    freq = 0.2 + torch.rand(3, generator=gen) * 0.4
    img = 127.5 + 127.5 * torch.sin(freq * (x + 0.5 * y) + phase)  # (80,96,3)
    Image.fromarray(img.to(torch.uint8).numpy()).save(path)
    return path


@pytest.fixture()
def style_image(tmp_path) -> Path:
    return make_style(tmp_path / "stripes.png")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEPORT_CACHE", str(tmp_path / "cache"))


@pytest.fixture()
def cli(monkeypatch, capsys):
    """In-process ``styleport ARGS`` -> (exit code, stderr); cheaper than a subprocess. Restores threads."""
    from styleport.cli import main

    threads = torch.get_num_threads()

    def call(args: list[str]) -> tuple[int, str]:
        try:
            code = main(args)
        finally:
            torch.set_num_threads(threads)
        return code, capsys.readouterr().err

    return call


def run_cli(args: list[str], env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m styleport ARGS`` in a subprocess (fresh process, like a user's)."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "styleport", *args], capture_output=True, text=True, env=full_env, timeout=600
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"styleport {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc
