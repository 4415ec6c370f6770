"""The parity matrix: every registered exporter x its runtime x every precision it declares.

The cases are read from the registries, never listed by hand, and a meta-test fails if a
registered (exporter, runtime, precision) has no case, no tolerance row or no runtime.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from styleport.export import base as exporters
from styleport.parity.run import ParityConfig, run
from styleport.precision import Precision
from styleport.runtimes import base as runtimes
from styleport.tolerances import lookup
from tests.conftest import assert_contrast
from tests.parity.conftest import SIZE

BUNDLED_MODELS = sorted((Path(__file__).resolve().parents[2] / "styleport" / "data" / "models").glob("*.pth"))


def registered_cases() -> list[tuple[str, str, str]]:
    """(format, runtime, precision) for every registered exporter and every precision it declares."""
    cases = []
    for name in exporters.names():
        exporter = exporters.get(name)
        cases.extend((name, exporter.runtime, p.value) for p in exporter.precisions)
    return cases


CASES = registered_cases()


@pytest.mark.parametrize(("fmt", "runtime", "precision"), CASES, ids=["-".join(c) for c in CASES])
def test_artifact_matches_reference(fmt, runtime, precision, parity_checkpoint, parity_exports, parity_photo):
    reason = runtimes.get(runtime).availability()
    if reason:
        pytest.skip(f"{runtime} unavailable here: {reason}")
    config = ParityConfig(
        formats=(fmt,),
        precisions=(Precision(precision),),
        sizes=(SIZE,),
        images=(parity_photo,),
        export_dir=parity_exports,
        runs=1,
    )
    (result,) = run(parity_checkpoint, config).results
    if result.status == "skipped":
        pytest.skip(result.reason)
    assert result.status == "passed", result.failure_text()
    assert result.runtime == runtime
    held_dark = result.tolerance.dark_frame != "none"  # the photo, then the dark frame unless the row skips it
    assert [(c.image, c.size) for c in result.cases] == [(parity_photo.stem, SIZE)] + [("dark-frame", SIZE)] * held_dark
    assert result.latency is not None and result.latency.median_ms > 0
    assert result.size_bytes and result.size_bytes > 0
    assert result.info is not None and result.info.runtime == runtime  # what actually ran is recorded
    assert result.tolerance is not None and result.psnr >= result.tolerance.min_psnr and not math.isnan(result.ssim)
    assert result.sample is not None
    assert_contrast(result.sample.reference, f"{fmt} {precision} reference")


def test_every_registered_case_is_parametrized_and_has_a_tolerance():
    """Meta-test: a new exporter, precision or runtime without a parity case or tolerance fails here."""
    params = [m for m in test_artifact_matches_reference.pytestmark if m.name == "parametrize"]
    covered = {tuple(c) for m in params for c in m.args[1]}
    expected = set(registered_cases())
    assert expected, "no exporters are registered"
    missing = sorted(expected - covered)
    assert not missing, f"registered (exporter, runtime, precision) without a parity case: {missing}"
    no_row = []
    for fmt, runtime, precision in sorted(expected):
        assert runtime in runtimes.names(), f"{fmt} is verified by runtime '{runtime}', which is not registered"
        assert fmt in runtimes.get(runtime).formats, f"runtime {runtime} does not declare format {fmt}"
        try:
            lookup(fmt, Precision(precision))
        except Exception as exc:  # StyleportError naming the missing row
            no_row.append(str(exc))
    assert not no_row, "; ".join(no_row)


def test_every_registered_runtime_has_a_case():
    """A runtime nobody exports to would never be exercised by the matrix (torch is the reference)."""
    used = {runtime for _, runtime, _ in registered_cases()} | {"torch"}
    orphans = sorted(set(runtimes.names()) - used)
    assert not orphans, f"registered runtimes with no exporter and so no parity case: {orphans}"


@pytest.mark.slow
@pytest.mark.skipif(not BUNDLED_MODELS, reason="no bundled trained network in styleport/data/models/*.pth yet")
def test_bundled_network_every_format(tmp_path):
    """The trained network: every registered format and precision, on the bundled photos at two sizes."""
    config = ParityConfig(sizes=((256, 256), (181, 243)), export_dir=tmp_path / "exports", runs=2)
    result = run(BUNDLED_MODELS[0], config)
    assert {(r.format, r.precision.value) for r in result.results} == {(f, p) for f, _, p in CASES}
    failed = [r.failure_text() for r in result.failed]
    assert not failed, " | ".join(failed)
    ran = [r for r in result.results if r.status == "passed"]
    assert ran, "every runtime was skipped"
