"""The npm files copied into the site: complete, versioned, and the ones the page loads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from styleport.demo import vendor
from styleport.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
WORKER_JS = REPO / "styleport" / "data" / "web" / "js" / "worker.js"


def fake_node_modules(root: Path, skip: str | None = None) -> Path:
    for f in vendor.VENDOR_FILES:
        if f.source == skip:
            continue
        path = root / f.package / f.source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"// {f.package} {f.source}")
        (root / f.package / "package.json").write_text(json.dumps({"version": "9.9.9", "license": "MIT"}))
    return root


def test_copies_every_file_and_writes_licenses(tmp_path):
    nm = fake_node_modules(tmp_path / "node_modules")
    versions = vendor.copy_vendor(nm, tmp_path / "site" / "vendor")
    for f in vendor.VENDOR_FILES:
        assert (tmp_path / "site" / "vendor" / f.target).read_text() == f"// {f.package} {f.source}"
    assert versions == {pkg: "9.9.9" for pkg in {f.package for f in vendor.VENDOR_FILES}}
    licenses = (tmp_path / "site" / "vendor" / "LICENSES.md").read_text()
    assert "onnxruntime-web 9.9.9 (MIT)" in licenses


def test_missing_file_names_the_package_and_npm_ci(tmp_path):
    nm = fake_node_modules(tmp_path / "node_modules", skip="dist/tf.min.js")
    with pytest.raises(UsageError, match=r"@tensorflow/tfjs/dist/tf\.min\.js.*npm ci"):
        vendor.copy_vendor(nm, tmp_path / "vendor")


def test_explicit_node_modules_without_packages_is_an_error(tmp_path):
    with pytest.raises(UsageError, match="npm ci"):
        vendor.find_node_modules(tmp_path)


def test_the_page_loads_exactly_the_vendored_files():
    """Every library file the worker loads from vendor/ is copied, and every copied file is used."""
    source = WORKER_JS.read_text()
    named = set(re.findall(r"'([\w.-]+\.(?:m?js|wasm))'", source)) - {"TF.js", "TensorFlow.js"}  # library names
    shipped = {Path(f.target).name for f in vendor.VENDOR_FILES}
    loaded_by_libraries = {"ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.asyncify.mjs"}  # imported by ORT
    loaded_by_libraries |= {n for n in shipped if n.startswith("tfjs-backend-wasm")}  # picked by tfjs-backend-wasm
    assert named == shipped - loaded_by_libraries


def test_pinned_versions_match_package_json():
    pins = json.loads((REPO / "package.json").read_text())["dependencies"]
    assert pins == vendor.PACKAGES


def test_wrong_version_names_the_npm_command(tmp_path):
    nm = fake_node_modules(tmp_path / "node_modules")  # every package at 9.9.9
    with pytest.raises(
        UsageError, match=r"onnxruntime-web 9\.9\.9 \(needs 1\.30\.0\).*npm install --no-save onnxruntime-web@1\.30\.0"
    ):
        vendor.find_node_modules(nm)


def test_js_dir_may_be_the_folder_above_node_modules(tmp_path):
    nm = fake_node_modules(tmp_path / "node_modules")
    for name, version in vendor.PACKAGES.items():
        (nm / name / "package.json").write_text(json.dumps({"version": version, "license": "MIT"}))
    assert vendor.find_node_modules(tmp_path) == nm
    assert vendor.find_node_modules(nm) == nm
