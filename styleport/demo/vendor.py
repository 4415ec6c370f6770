"""The JavaScript libraries the site runs, copied from ``node_modules`` (npm, package-lock.json).

Nothing is fetched from a CDN at run time: ``styleport demo build`` copies exactly these dist files
into ``site/vendor/``. The table is data; ``styleport/data/web/js/worker.js`` loads them by these
names. A checkout has them in ``node_modules/`` after ``npm ci``; a pip install finds them with
``--js-dir`` (or ``./node_modules``), and is told the exact npm command when they are missing.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from styleport.errors import UsageError

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class VendorFile:
    package: str  # npm package name
    source: str  # path inside the package
    target: str  # path inside site/vendor/
    purpose: str


_ORT = "onnxruntime-web"
_TF = "@tensorflow/tfjs"
_TF_WASM = "@tensorflow/tfjs-backend-wasm"
_TF_WEBGPU = "@tensorflow/tfjs-backend-webgpu"

# The exact versions the page is written and tested against (package.json pins the same; a test checks).
PACKAGES: dict[str, str] = {_ORT: "1.30.0", _TF: "4.22.0", _TF_WASM: "4.22.0", _TF_WEBGPU: "4.22.0"}

VENDOR_FILES: tuple[VendorFile, ...] = (
    VendorFile(_ORT, "dist/ort.wasm.min.mjs", "ort/ort.wasm.min.mjs", "ONNX Runtime Web, wasm EP"),
    VendorFile(_ORT, "dist/ort-wasm-simd-threaded.mjs", "ort/ort-wasm-simd-threaded.mjs", "wasm EP loader"),
    VendorFile(_ORT, "dist/ort-wasm-simd-threaded.wasm", "ort/ort-wasm-simd-threaded.wasm", "wasm EP binary"),
    VendorFile(_ORT, "dist/ort.webgpu.min.mjs", "ort/ort.webgpu.min.mjs", "ONNX Runtime Web, WebGPU EP"),
    VendorFile(
        _ORT, "dist/ort-wasm-simd-threaded.asyncify.mjs", "ort/ort-wasm-simd-threaded.asyncify.mjs", "WebGPU EP loader"
    ),
    VendorFile(
        _ORT,
        "dist/ort-wasm-simd-threaded.asyncify.wasm",
        "ort/ort-wasm-simd-threaded.asyncify.wasm",
        "WebGPU EP binary",
    ),
    VendorFile(_TF, "dist/tf.min.js", "tfjs/tf.min.js", "TF.js core + converter + WebGL/CPU backends"),
    VendorFile(_TF_WASM, "dist/tf-backend-wasm.min.js", "tfjs/tf-backend-wasm.min.js", "TF.js wasm backend"),
    VendorFile(_TF_WASM, "dist/tfjs-backend-wasm.wasm", "tfjs/tfjs-backend-wasm.wasm", "wasm backend binary"),
    VendorFile(_TF_WASM, "dist/tfjs-backend-wasm-simd.wasm", "tfjs/tfjs-backend-wasm-simd.wasm", "SIMD binary"),
    VendorFile(
        _TF_WASM, "dist/tfjs-backend-wasm-threaded-simd.wasm", "tfjs/tfjs-backend-wasm-threaded-simd.wasm", "threads"
    ),
    VendorFile(_TF_WEBGPU, "dist/tf-backend-webgpu.min.js", "tfjs/tf-backend-webgpu.min.js", "TF.js WebGPU backend"),
)


def npm_command() -> str:
    return "npm install --no-save " + " ".join(f"{name}@{version}" for name, version in PACKAGES.items())


def candidates(explicit: Path | None = None) -> list[Path]:
    """Where the npm packages are looked for: ``--js-dir``, else ./node_modules, else the checkout's."""
    if explicit is not None:
        return [explicit, explicit / "node_modules"]
    return [Path.cwd() / "node_modules", REPO_ROOT / "node_modules"]


def find_node_modules(explicit: Path | None = None) -> Path:
    """The folder holding the npm packages (``<dir>/onnxruntime-web`` ...), with the pinned versions."""
    looked = candidates(explicit)
    found = next((p for p in looked if (p / _ORT).is_dir()), None)
    if found is None:
        where = " or ".join(str(p) for p in dict.fromkeys(looked))
        raise UsageError(
            f"the web demo's JavaScript runtimes are not in {where}: run `{npm_command()}` in a folder and pass "
            "--js-dir FOLDER/node_modules (in a styleport checkout: `npm ci`)"
        )
    wrong = []
    for name, version in PACKAGES.items():
        meta = found / name / "package.json"
        got = json.loads(meta.read_text()).get("version") if meta.is_file() else None
        if got != version:
            wrong.append(f"{name} {got or 'missing'} (needs {version})")
    if wrong:
        raise UsageError(f"{found}: {', '.join(wrong)}: run `{npm_command()}` there (or `npm ci` in the checkout)")
    return found


def package_info(node_modules: Path, package: str) -> dict[str, str]:
    meta = json.loads((node_modules / package / "package.json").read_text())
    return {"version": str(meta.get("version", "")), "license": str(meta.get("license", "see the package"))}


def copy_vendor(node_modules: Path, vendor_dir: Path) -> dict[str, str]:
    """Copy every VENDOR_FILES entry and a LICENSES.md; returns {package: version}."""
    missing = [f"{f.package}/{f.source}" for f in VENDOR_FILES if not (node_modules / f.package / f.source).is_file()]
    if missing:
        raise UsageError(
            f"{node_modules}: missing {', '.join(missing)}: run `npm ci` (versions from package-lock.json)"
        )
    for f in VENDOR_FILES:
        target = vendor_dir / f.target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(node_modules / f.package / f.source, target)
    info = {pkg: package_info(node_modules, pkg) for pkg in sorted({f.package for f in VENDOR_FILES})}
    lines = ["# Third-party JavaScript in this folder", "", "Copied unmodified from npm by `styleport demo build`:", ""]
    lines += [
        f"- {pkg} {i['version']} ({i['license']}): https://www.npmjs.com/package/{pkg}" for pkg, i in info.items()
    ]
    (vendor_dir / "LICENSES.md").write_text("\n".join(lines) + "\n")
    return {pkg: i["version"] for pkg, i in info.items()}
