"""Tiny networks for export tests: width 0.25, random init, made to produce image-like output.

A freshly initialised TransformerNet outputs values near 0, which the clamp flattens to black:
every export would "match" trivially. These nets get random instance-norm affines (so styles
differ) and an output conv scaled around mid-grey, so their outputs span 0..255 and quantization
or fp16 errors show up in PSNR.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from styleport import checkpoints
from styleport.model import ModelConfig, TransformerNet

FIXTURE_PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"
VERIFY_SIZES = ((48, 40), (37, 53))  # neither is the 64x64 trace size; 37x53 is not a multiple of 4


def image_like_net(num_styles: int = 1, seed: int = 0) -> TransformerNet:
    torch.manual_seed(seed)
    net = TransformerNet(ModelConfig(width=0.25, num_styles=num_styles)).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("in") or ".in" in name:
                p.add_(torch.randn_like(p) * 0.3)
        net.deconv3.conv2d.weight.mul_(40.0)
        net.deconv3.conv2d.bias.fill_(128.0)
    return net


@pytest.fixture(scope="session")
def photos() -> tuple[Path, ...]:
    found = tuple(sorted(FIXTURE_PHOTOS.glob("*.jpg")))
    assert found, f"no fixture photos in {FIXTURE_PHOTOS}"
    return found


@pytest.fixture(scope="session")
def verify_sizes() -> tuple[tuple[int, int], ...]:
    return VERIFY_SIZES


@pytest.fixture(scope="session")
def make_net():
    return image_like_net


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "tiny.pth"
    checkpoints.save(path, image_like_net(1), {"style_names": ["tiny"], "styles": [{"name": "tiny", "license": "CC0"}]})
    return path


@pytest.fixture(scope="session")
def two_style_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "duo.pth"
    checkpoints.save(path, image_like_net(2, seed=1), {"style_names": ["left", "right"]})
    return path
