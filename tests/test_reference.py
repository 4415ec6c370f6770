"""The independent reference (styleport/reference.py) and the frozen golden outputs it guards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from styleport import checkpoints, reference
from tests.conftest import PHOTOS, assert_contrast, make_net, torch_run

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
GOLDEN_MODEL = GOLDEN / "tiny_w025.pth"


@pytest.fixture(scope="module")
def golden():
    image = np.load(GOLDEN / "input_23x31.npy").astype(np.float32)
    return image, np.load(GOLDEN / "output_23x31.npy")


def test_reference_reproduces_the_frozen_golden_output(golden):
    image, want = golden
    got = reference.forward_file(GOLDEN_MODEL, image)
    assert np.abs(got - want).max() < 1e-3
    assert_contrast(want, "golden output")


def test_styleport_model_and_checkpoint_loading_reproduce_the_golden_output(golden):
    """A regression in model.py or checkpoints.py shows here, not only as a self-consistent pair."""
    image, want = golden
    got = torch_run(checkpoints.load(GOLDEN_MODEL).build(), image)
    assert np.abs(got - want).max() < 5e-3


@pytest.mark.parametrize(
    ("fault", "kwargs"), [("replicate padding", {"pad_mode": "edge"}), ("norm eps x100", {"eps": 1e-3})]
)
def test_golden_comparison_catches_a_wrong_forward(golden, fault, kwargs):
    """The bound above is tight enough to see the faults the fault-injection suite uses."""
    image, want = golden
    got = reference.forward(reference.read_weights(GOLDEN_MODEL), image, **kwargs)
    assert np.abs(got - want).max() > 5e-2, fault


@pytest.mark.parametrize(("width", "styles", "size"), [(0.25, 2, (37, 53)), (1.0, 1, (21, 30))])
def test_reference_matches_transformer_net(width, styles, size):
    net = make_net(width=width, num_styles=styles, seed=3)
    from styleport.export.calibration import images_at

    (image,) = images_at([PHOTOS[1]], [size])
    sw = np.array([0.3, 0.7], np.float32) if styles == 2 else None
    want = torch_run(net, image, sw)
    got = reference.forward(reference.weights_of(net.state_dict()), image, sw)
    assert got.shape == want.shape and np.abs(got - want).max() < 5e-3


def test_reads_pytorch_examples_files_itself(tmp_path, golden):
    """DataParallel prefix and 2017 running stats: the reference reads them without checkpoints.py."""
    image, want = golden
    state = torch.load(GOLDEN_MODEL, weights_only=True)["state_dict"]
    legacy = {f"module.{k}": v for k, v in state.items()}
    legacy["module.in1.running_mean"] = torch.zeros(8)
    torch.save(legacy, tmp_path / "legacy.pth")
    assert np.abs(reference.forward_file(tmp_path / "legacy.pth", image) - want).max() < 1e-3
