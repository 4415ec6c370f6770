import math

import numpy as np
import pytest

from styleport import metrics


def test_identical_images_are_perfect():
    a = np.random.default_rng(0).uniform(0, 255, (20, 30, 3))
    d = metrics.compare(a, a.copy())
    assert d.max_abs == 0 and d.mean_abs == 0 and math.isinf(d.psnr) and d.ssim == pytest.approx(1.0)


def test_psnr_of_known_error():
    a = np.zeros((10, 10, 3))
    b = a + 1.0  # mse 1 -> 20*log10(255)
    assert metrics.psnr(a, b) == pytest.approx(20 * math.log10(255.0))
    assert metrics.max_abs(a, b) == 1.0 and metrics.mean_abs(a, b) == 1.0


def test_ssim_drops_with_noise_and_structure_loss():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 255, (40, 40, 3))
    slight = np.clip(a + rng.normal(0, 2, a.shape), 0, 255)
    flat = np.full_like(a, a.mean())
    assert 0.95 < metrics.ssim(a, slight) < 1.0
    assert metrics.ssim(a, flat) < 0.1


def test_nan_output_is_worst():
    a = np.zeros((8, 8, 3))
    b = a.copy()
    b[0, 0, 0] = np.nan
    d = metrics.compare(a, b)
    assert d.psnr == float("-inf") and math.isinf(d.max_abs)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="different shapes"):
        metrics.psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
