"""Reliability outside the CLI: the Python API's typed errors, the demo server's folder boundary,
the report's escaping, and the temp-folder mechanics every command relies on."""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

import styleport
from styleport import fileutil
from styleport.errors import ImageError, OutputError
from styleport.fileutil import TEMP_PREFIX, atomic_output, claim_folder, private_temp, scratch, sweep_stale


@pytest.fixture()
def net(world):
    return styleport.load(world / "model.pth", device="cpu")


def test_numpy_uint8_arrays_are_accepted_and_returned_as_arrays(net):
    arr = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = net.stylize(arr)
    assert isinstance(out, np.ndarray) and out.shape == (20, 30, 3) and out.dtype == np.uint8
    assert np.array_equal(out, np.asarray(net.stylize(Image.fromarray(arr))))


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((20, 30, 3), np.float32),
        np.zeros((20, 30, 5), np.uint8),
        np.zeros((2, 20, 30, 3), np.uint8),
        [[1]],
        "photo.jpg",
    ],
    ids=["float", "5-channels", "4-dims", "list", "str"],
)
def test_anything_else_is_a_typed_error(net, bad):
    with pytest.raises(ImageError, match="numpy|PIL"):
        net.stylize(bad)


def test_empty_lazily_truncated_and_oversized_images_are_typed_errors(net, world):
    with pytest.raises(ImageError, match=r"no pixels \(0x0\)"):
        net.stylize(Image.new("RGB", (0, 0)))
    with pytest.raises(ImageError, match="truncated.jpg: truncated or corrupt"):
        net.stylize(Image.open(world / "truncated.jpg"))  # lazily opened: decoding fails inside stylize
    with pytest.raises(ImageError, match="above the limit"):
        net.stylize(Image.new("RGB", (40, 30)), size=2000, max_pixels=10**6)  # 2000x1500: refused before any work
    with pytest.raises(styleport.errors.UsageError, match="finite"):
        net.stylize(Image.new("RGB", (40, 30)), style_weights=(float("nan"),))


def test_demo_server_refuses_symlinks_out_of_the_site(tmp_path):
    from styleport.demo.serve import Background

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>demo</p>")
    (site / "models.json").write_text("{}")
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the site")
    (site / "leak.txt").symlink_to(secret)
    (site / "inside.html").symlink_to(site / "index.html")  # a link that stays inside is fine
    with Background(site) as url:
        assert urllib.request.urlopen(url + "inside.html").read() == b"<p>demo</p>"
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(url + "leak.txt")


def test_report_markdown_escapes_html_from_file_names():
    from styleport.parity.report import _md

    assert _md("<img src=x onerror=alert(1)>.pth | x") == "&lt;img src=x onerror=alert(1)&gt;.pth \\| x"


def test_scratch_points_tempfile_and_tmpdir_into_the_private_folder(tmp_path):
    before = tempfile.gettempdir()
    with scratch(tmp_path / "out") as work:
        assert tempfile.gettempdir() == str(work) and os.environ["TMPDIR"] == str(work)
        made = tempfile.mkdtemp(suffix=".mlpackage")  # what coremltools does
        assert made.startswith(str(tmp_path / "out" / TEMP_PREFIX))
    assert tempfile.gettempdir() == before
    assert [p.name for p in (tmp_path / "out").iterdir()] == []  # the private folder is gone with it


def test_stale_private_folders_of_killed_runs_are_swept_but_live_ones_kept(tmp_path):
    dead = tmp_path / f"{TEMP_PREFIX}999999-deadbeef"
    (dead / "1").mkdir(parents=True)
    (dead / ".lock").write_text("")  # nobody holds its lock: the run was killed
    legacy = tmp_path / ".photo.999999.0123abcd.tmp.png"  # a temp file of the old naming
    legacy.write_bytes(b"partial")
    with private_temp(tmp_path) as live:
        assert sweep_stale(tmp_path) == []  # a second sweep: nothing else is stale, ours is locked
        assert live.is_dir() and not dead.exists() and not legacy.exists()


def test_atomic_output_never_replaces_a_foreign_folder_or_a_folder_with_a_file(tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "a.jpg").write_bytes(b"user data")
    with pytest.raises(OutputError, match="not created by styleport"):
        with atomic_output(foreign) as tmp:
            tmp.mkdir()
    (tmp_path / "empty.png").mkdir()
    with pytest.raises(OutputError, match="is a folder; not replacing it with a file"):
        with atomic_output(tmp_path / "empty.png") as tmp:
            tmp.write_bytes(b"x")
    assert (foreign / "a.jpg").read_bytes() == b"user data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.png", "photos"]


def test_nested_atomic_outputs_use_one_temp_name(tmp_path):
    with atomic_output(tmp_path / "m.mlpackage") as outer:
        with atomic_output(outer) as inner:  # an exporter's own atomic write inside the pipeline's
            assert inner == outer
            inner.mkdir()
            (inner / "Manifest.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mlpackage"]


def test_claim_folder_refuses_foreign_folders_and_files_and_marks_new_ones(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(OutputError, match="exists and is a file"):
        claim_folder(tmp_path / "f.txt", "output")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(OutputError, match="not created by styleport"):
        claim_folder(tmp_path / "mine", "output")
    new = claim_folder(tmp_path / "new", "output")
    assert (new / fileutil.MARKER).is_file()
    (new / "result.png").write_bytes(b"")
    assert claim_folder(new, "output") == new  # ours: accepted again


def test_release_unused_removes_only_folders_this_process_created_and_left_empty(tmp_path):
    (tmp_path / "users").mkdir()  # existed before: kept even though empty
    fileutil.claim_folder(tmp_path / "users", "report")
    fileutil.claim_folder(tmp_path / "a" / "b" / "new", "report")  # created with its parents, never written
    written = fileutil.claim_folder(tmp_path / "written", "report")
    (written / "report.json").write_text("{}")
    removed = fileutil.release_unused()
    assert sorted(p.name for p in removed) == ["a", "b", "new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users", "written"]
    assert fileutil.release_unused() == []  # forgotten once released
