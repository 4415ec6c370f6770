"""``styleport verify`` reads what each exported file is: every registered format x precision.

Uses the session's shared exports (tests/parity/conftest.py), so it costs little after the matrix.
"""

from __future__ import annotations

import pytest

from styleport.export import base as exporters
from styleport.verification.inspect import LAYOUTS, ArtifactError, check_against, inspect
from tests.parity.test_matrix import CASES


@pytest.mark.parametrize(("fmt", "runtime", "precision"), CASES, ids=["-".join(c) for c in CASES])
def test_format_and_precision_come_from_the_file(fmt, runtime, precision, exported):
    path = exported(fmt, precision)
    info = inspect(path)
    assert (info.format, info.precision.value, info.precision_from) == (fmt, precision, "styleport metadata")
    weights_only = inspect(path, metadata=False)  # as for a file from another tool: the weights tell
    assert (weights_only.precision.value, weights_only.precision_from) == (precision, "the weights")
    assert info.layout in (LAYOUTS[fmt], "image") and info.inputs == ("image",) and info.num_styles == 1
    assert info.provenance and info.provenance["precision"] == precision
    check_against(info, num_styles=1)
    with pytest.raises(ArtifactError, match="style"):
        check_against(info, num_styles=2)


@pytest.mark.parametrize(
    "fmt", [n for n in exporters.names() if not exporters.get(n).suffix.endswith(("_tfjs", ".mlpackage"))]
)
def test_a_truncated_file_is_refused(fmt, exported, tmp_path):
    source = exported(fmt, exporters.get(fmt).default_precision.value)
    cut = tmp_path / source.name
    cut.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    with pytest.raises(ArtifactError, match=f"{cut}: unreadable .*truncated or corrupt"):
        inspect(cut)


def test_a_truncated_package_is_refused(exported, tmp_path):
    import shutil

    for fmt, weights in (("tfjs", "*.bin"), ("coreml", "weight.bin")):
        source = exported(fmt, exporters.get(fmt).default_precision.value)
        copy = tmp_path / source.name
        shutil.copytree(source, copy)
        blob = next(copy.rglob(weights))
        blob.write_bytes(blob.read_bytes()[: blob.stat().st_size // 2])
        with pytest.raises(ArtifactError, match=f"{copy}: .*(truncated|bytes)"):
            inspect(copy)
