"""The npm files copied into the site: complete, versioned, and the ones the page loads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from styleport.demo import vendor
from styleport.errors import UsageError

ENGINES_JS = Path(__file__).resolve().parents[2] / "web_demo" / "js" / "engines.js"


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


def test_the_page_loads_exactly_the_vendored_scripts():
    """Every script the page imports from vendor/ is copied, and every copied script is used."""
    source = ENGINES_JS.read_text()
    used = set(re.findall(r"(?:ort|tfjs)/[\w.-]+\.m?js|ort\.(?:wasm|webgpu)\.min\.mjs", source))
    used = {u if "/" in u else f"ort/{u}" for u in used}
    shipped_scripts = {f.target for f in vendor.VENDOR_FILES if f.target.endswith((".js", ".mjs"))}
    loaded_by_libraries = {t for t in shipped_scripts if "ort-wasm-simd-threaded" in t}  # imported by ORT itself
    assert used == shipped_scripts - loaded_by_libraries
