"""Every format x precision of the bundled great_wave, run in its runtime and compared with the
independent numpy reference (styleport/reference.py) -- not with TransformerNet -- against its row."""

from __future__ import annotations

import numpy as np
import pytest

from styleport import reference
from styleport.export import base as exporters
from styleport.export.calibration import images_at
from styleport.metrics import max_abs, psnr
from styleport.precision import Precision
from styleport.runtimes import base as runtimes
from styleport.tolerances import fp16_exact, lookup, variant_of
from tests.conftest import assert_contrast
from tests.parity.conftest import SIZE
from tests.parity.test_matrix import CASES


@pytest.fixture(scope="module")
def independent(parity_checkpoint, parity_photo):
    """(weights, 8-bit input image, float64 reference output) for the shared parity case."""
    w = reference.read_weights(parity_checkpoint)
    (image,) = images_at([parity_photo], [SIZE])
    image = np.round(image).astype(np.float32)  # a photo's pixels are 8-bit
    want = reference.forward(w, image)
    assert_contrast(want, "independent reference")
    return w, image, want


@pytest.mark.parametrize(("fmt", "runtime", "precision"), CASES, ids=["-".join(c) for c in CASES])
def test_artifact_matches_the_independent_reference(fmt, runtime, precision, exported, independent):
    w, image, want = independent
    p = Precision(precision)
    path = exported(fmt, precision)
    details = {}
    if fmt == "onnx" or fmt == "ort":
        import json

        import onnx

        meta = {m.key: m.value for m in onnx.load(str(path)).metadata_props} if fmt == "onnx" else {}
        details = json.loads(meta.get("styleport.details", "{}"))
    tol = lookup(fmt, p, variant_of(fmt, p, details, fp16_exact(w)))
    with runtimes.get(runtime).open(path) as session:
        got = session.run(image)
    assert got.shape == want.shape
    score, worst = psnr(want, got), max_abs(want, got)
    assert score >= tol.min_psnr and (tol.max_abs is None or worst <= tol.max_abs), (
        f"{fmt} {precision} vs the independent reference: {score:.1f} dB, max abs {worst:.3g}; row {tol}"
    )
    assert exporters.get(fmt).runtime == runtime
