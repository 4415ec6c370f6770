"""Held-out verification: calibration and verification photos are disjoint, and never noise."""

from __future__ import annotations

import numpy as np
import pytest

from styleport.errors import UsageError
from styleport.export import pipeline
from styleport.export.calibration import calibration_set, fit
from styleport.images import load_image, sample_photos


def test_bundled_sets_are_disjoint_and_cover_the_samples():
    calibration, verification = sample_photos("calibration"), sample_photos("verification")
    assert len(calibration) >= 3 and len(verification) >= 3
    assert not set(calibration) & set(verification)
    assert set(calibration) | set(verification) == set(sample_photos())
    with pytest.raises(UsageError, match="unknown sample photo set"):
        sample_photos("training")


def test_calibration_without_photos_uses_the_bundled_calibration_photos_not_noise():
    got = calibration_set([], (32, 40), count=8)
    want = [fit(load_image(p).rgb, 32, 40) for p in sample_photos("calibration")]
    assert len(got) == len(want) and all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_overlapping_calibration_and_verification_photos_are_refused():
    pipeline.check_disjoint(sample_photos("calibration"), sample_photos("verification"))
    shared = sample_photos("verification")[0]
    with pytest.raises(
        UsageError, match=f"1 photo\\(s\\) used for both calibration and verification \\({shared.name}\\)"
    ):
        pipeline.check_disjoint((*sample_photos("calibration"), shared), sample_photos("verification"))


def test_export_and_parity_refuse_overlap_before_any_work(tiny_model_file, tmp_path, capsys):
    from styleport.cli import main

    shared = str(sample_photos("verification")[0])
    code = main(["export", str(tiny_model_file), "--to", "onnx", "-o", str(tmp_path / "e"), "--calibration", shared])
    assert code == 2 and "used for both calibration and verification" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()
    code = main(["parity", str(tiny_model_file), "--formats", "onnx", "--images", shared, "--calibration", shared,
                 "--report", str(tmp_path / "r"), "--export-dir", str(tmp_path / "x")])  # fmt: skip
    assert code == 2 and "used for both calibration and verification" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() and not (tmp_path / "x").exists()
