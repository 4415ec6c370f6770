"""styleport demo build: up-front checks, the real exporters, the manifest, atomic output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import styleport
from styleport.cli import main
from styleport.demo import build, vendor
from styleport.demo.build import BuildConfig
from styleport.errors import CheckpointError, UsageError
from styleport.precision import Precision


def config(tmp_path, models, **kw) -> BuildConfig:
    return BuildConfig(models=tuple(models), out=tmp_path / "site", **kw)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"formats": ("onnx", "coreml")}, "--formats: choose from onnx, tfjs"),
        ({"formats": ()}, "--formats"),
        ({"onnx_precision": Precision.INT8}, "ships onnx at fp32, fp16, not int8"),
        ({"tfjs_precision": Precision.PALETTE4}, "ships tfjs at uint8, fp16, fp32"),
    ],
)
def test_bad_requests_fail_before_any_work(tmp_path, tiny_model_file, kwargs, message):
    with pytest.raises(UsageError, match=message):
        build.build_site(config(tmp_path, [tiny_model_file], **kwargs), progress=lambda _: None)
    assert not (tmp_path / "site").exists()


def test_no_models_and_missing_thumbnail_are_usage_errors(tmp_path, tiny_model_file):
    with pytest.raises(UsageError, match="no models to build"):
        build.check(config(tmp_path, []))
    with pytest.raises(UsageError, match="--thumbnail tiny=.*no such file"):
        build.check(config(tmp_path, [tiny_model_file], thumbnails=(("tiny", tmp_path / "nope.jpg"),)))


def test_refuses_to_overwrite_the_site_sources(tmp_path, tiny_model_file):
    bad = BuildConfig(models=(tiny_model_file,), out=build.SITE_SOURCE)
    with pytest.raises(UsageError, match="refusing to replace"):
        build.check(bad)


def test_a_bad_checkpoint_leaves_nothing_behind(tmp_path, tiny_model_file):
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="broken.pth"):
        build.build_site(config(tmp_path, [tiny_model_file, broken]), progress=lambda _: None)
    assert not (tmp_path / "site").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_reports_usage_errors(tmp_path, tiny_model_file, capsys):
    code = main(
        ["demo", "build", "--models", str(tiny_model_file), "--formats", "mlpackage", "-o", str(tmp_path / "s")]
    )
    assert code == 2
    assert "styleport: error: --formats" in capsys.readouterr().err


def test_onnx_only_site_with_painting_thumbnail(tmp_path, tiny_model_file, photos):
    cfg = config(tmp_path, [tiny_model_file], formats=("onnx",), verify=False, thumbnails=(("tiny", photos[0]),))
    data = build.build_site(cfg, progress=lambda _: None)
    site = tmp_path / "site"
    assert json.loads((site / "models.json").read_text()) == data
    (model,) = data["models"]
    assert model["id"] == "tiny" and model["num_styles"] == 1 and set(model["files"]) == {"onnx"}
    onnx = model["files"]["onnx"]
    assert onnx["precision"] == "fp32" and (site / onnx["path"]).stat().st_size == onnx["bytes"] > 10_000
    from PIL import Image

    with Image.open(site / model["styles"][0]["thumbnail"]) as thumb:
        assert thumb.size == (build.THUMB_PX, build.THUMB_PX)
    for page in ("index.html", "coi.js", "js/app.js", "js/engines.js", "css/demo.css", "vendor/ort/ort.wasm.min.mjs"):
        assert (site / page).is_file(), page
    assert data["samples"] and all((site / s["path"]).is_file() for s in data["samples"])
    assert data["vendor"]["onnxruntime-web"]


def test_painting_next_to_the_checkpoint_is_found(tmp_path, tiny_model_file):
    from styleport import checkpoints

    ckpt = checkpoints.load(tiny_model_file)
    style = {"name": "tiny", "source": "", "license": ""}
    assert build._painting_beside(ckpt, 0, style) is None
    (tmp_path / "tiny.png").write_bytes(b"png")
    assert build._painting_beside(ckpt, 0, style) == tmp_path / "tiny.png"
    (tmp_path / "GreatWave.jpg").write_bytes(b"jpg")
    named = {"name": "tiny", "source": "some/where/GreatWave.jpg", "license": ""}
    assert build._painting_beside(ckpt, 0, named) == tmp_path / "GreatWave.jpg"


def test_multi_style_network_uses_the_single_style_thumbnail_of_the_same_name(tmp_path, two_style_model_file):
    from styleport import checkpoints

    ckpt = checkpoints.load(two_style_model_file)
    style = {"name": "starry_night", "source": "starry_night.png", "license": ""}
    assert build._painting_beside(ckpt, 1, style) is None
    (tmp_path / "starry_night.jpg").write_bytes(b"jpg")
    assert build._painting_beside(ckpt, 1, style) == tmp_path / "starry_night.jpg"
    (tmp_path / "two.1.jpg").write_bytes(b"jpg")  # a file made for this network wins
    assert build._painting_beside(ckpt, 1, style) == tmp_path / "two.1.jpg"


def installed_copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """What a pip user has: the package (page template included as package data), no checkout."""
    installed = tmp_path / "site-packages"
    shutil.copytree(
        Path(styleport.__file__).parent, installed / "styleport", ignore=shutil.ignore_patterns("__pycache__")
    )
    work = tmp_path / "work"
    work.mkdir()
    return work, {**os.environ, "PYTHONPATH": str(installed)}


def build_cmd(model: Path) -> list[str]:
    return [sys.executable, "-m", "styleport", "demo", "build", "--models", str(model), "--formats", "onnx"] + [
        "--no-verify",
        "-o",
        "site",
    ]


def test_installed_package_without_js_runtimes_names_the_npm_packages(tmp_path, tiny_model_file):
    work, env = installed_copy(tmp_path)
    missing = subprocess.run(build_cmd(tiny_model_file), cwd=work, env=env, capture_output=True, text=True, check=False)
    assert missing.returncode == 2, missing.stderr
    (line,) = [x for x in missing.stderr.splitlines() if x.startswith("styleport: error:")]
    pins = " ".join(f"{name}@{version}" for name, version in vendor.PACKAGES.items())
    assert f"npm install --no-save {pins}" in line and "--js-dir" in line
    assert not (work / "site").exists()


@pytest.mark.slow
def test_installed_package_builds_the_site_with_js_dir(tmp_path, tiny_model_file):
    work, env = installed_copy(tmp_path)
    cmd = [*build_cmd(tiny_model_file), "--js-dir", str(vendor.REPO_ROOT / "node_modules")]
    subprocess.run(cmd, cwd=work, env=env, check=True)
    for page in (
        "index.html",
        "js/worker.js",
        "js/app.js",
        "css/demo.css",
        "vendor/ort/ort.wasm.min.mjs",
        "models.json",
    ):
        assert (work / "site" / page).is_file(), page
