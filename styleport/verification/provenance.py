"""Provenance of an exported artifact: what made it, recorded beside it at export.

A sidecar ``<artifact>.styleport.json`` (``model_fp32.onnx.styleport.json``, ``model_tfjs.styleport.json``
beside the folder) holds the checkpoint's sha256, the format, precision, exporter options (defaults
filled in), shapes, the calibration photos' digest, the styleport version and a digest of the
exporter source code. ``styleport parity --export-dir`` reuses an artifact only when its record
matches what it would export now; otherwise it re-exports and says why. ``styleport verify``
reports the record when there is one (the checkpoint hash tells which model made a file).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from styleport.fileutil import atomic_write_bytes

SUFFIX = ".styleport.json"


def sidecar(artifact: Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def photos_sha256(photos: Sequence[Path]) -> str:
    """One digest over the calibration photos' contents, in order."""
    digest = hashlib.sha256()
    for photo in photos:
        digest.update(file_sha256(Path(photo)).encode())
    return digest.hexdigest()


# Code outside styleport/export that decides what an exported file holds: the network, its exact graph
# rewrites (sub-pixel kernels, the ONNX norm rewrite), checkpoint loading and image decoding (calibration).
ARTIFACT_CODE = ("model.py", "subpixel.py", "subpixel_kernels.py", "onnx_norm.py", "checkpoints.py", "images.py")


_PACKAGE = Path(__file__).resolve().parents[1]  # styleport/


def exporter_code_files() -> list[Path]:
    return sorted((_PACKAGE / "export").glob("*.py")) + [_PACKAGE / name for name in ARTIFACT_CODE]


@functools.lru_cache(maxsize=1)
def exporter_code_sha256() -> str:
    """Digest of the code that makes artifacts (``exporter_code_files``): a change to any of it re-exports
    even when the version did not move."""
    digest = hashlib.sha256()
    for path in exporter_code_files():
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def reexport_stamp(packages: Sequence[str]) -> str:
    """What re-exporting a checkpoint to the same bytes depends on besides the checkpoint: the exporter code
    (``exporter_code_sha256``) and the versions of ``packages``. Recorded in quantized files whose
    verification re-exports the checkpoint (``verification.emulate``: 8-bit activation QDQ, TFLite
    dynamic-range int8); the re-export is the reference only where the stamp is the same."""
    parts = [exporter_code_sha256()] + [f"{p}={_version(p)}" for p in packages]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def effective_options(exporter, options: Mapping[str, str]) -> dict[str, str]:
    """The exporter's options with defaults filled in, sorted: e.g. {"io": "image", "shapes": "enumerated"}."""
    merged = {key: spec.default for key, spec in exporter.options.items()}
    merged.update(options)
    return dict(sorted(merged.items()))


def record(checkpoint_path: Path, exporter, request) -> dict[str, Any]:
    """The provenance of exporting ``checkpoint_path`` with ``exporter`` for ``request`` (an ExportRequest)."""
    from styleport import __version__

    options = effective_options(exporter, request.options)
    return {
        "checkpoint_sha256": file_sha256(Path(checkpoint_path)),
        "format": request.format,
        "precision": request.precision.value,
        "options": options,
        "shapes": [list(s) for s in request.shapes],
        "calibration_sha256": photos_sha256(request.calibration_images),
        "styleport": __version__,
        "exporter_code_sha256": exporter_code_sha256(),
    }


def write(artifact: Path, data: Mapping[str, Any]) -> Path:
    path = sidecar(artifact)
    atomic_write_bytes(path, (json.dumps(dict(data), indent=2, sort_keys=True) + "\n").encode())
    return path


def read(artifact: Path) -> dict[str, Any] | None:
    """The recorded provenance, or None when there is no (readable) record."""
    path = sidecar(artifact)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def mismatch(recorded: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> str:
    """Why ``recorded`` does not match ``wanted`` (empty string: it matches)."""
    if recorded is None:
        return "no provenance record"
    names = {
        "checkpoint_sha256": "made from another checkpoint",
        "exporter_code_sha256": "made by other exporter code",
        "styleport": "made by another styleport version",
        "calibration_sha256": "calibrated on other photos",
        "options": "exported with other options",
        "shapes": "exported for other shapes",
    }
    diffs = [names.get(key, f"{key} differs") for key in wanted if recorded.get(key) != wanted[key]]
    return ", ".join(diffs)
