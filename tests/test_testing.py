"""The stand-in networks (styleport/testing.py) have a trained network's output contrast."""

from __future__ import annotations

import numpy as np
import pytest

from styleport.export.calibration import images_at
from styleport.testing import stand_in_net
from tests.conftest import PHOTOS, assert_contrast, torch_run


@pytest.mark.parametrize("styles", [1, 2])
def test_stand_in_outputs_have_std_of_at_least_50_on_the_photos(styles):
    images = images_at(PHOTOS[::2], [(40, 48)] * 3)
    for seed in (0, 1, 2, 3, 11, 12, 13, 21, 22, 23, 24, 25):
        net = stand_in_net(0.25, styles, seed)
        for sw in [None] if styles == 1 else [np.eye(2, dtype=np.float32)[0], np.eye(2, dtype=np.float32)[1]]:
            for image in images:
                out = torch_run(net, image, sw)
                assert out.std() >= 50, (seed, sw, out.std())
                assert ((out <= 0) | (out >= 255)).mean() < 0.35, "mostly clamped: not image-like"


def test_contrast_guard_fails_a_flat_reference():
    with pytest.raises(AssertionError, match="degenerate"):
        assert_contrast(np.full((8, 8, 3), 128.0) + np.random.default_rng(0).normal(0, 5, (8, 8, 3)))
