"""TF.js in Node: runs a TF.js graph-model folder with @tensorflow/tfjs (wasm backend; cpu optional).

A session starts one Node process (``node/run_tfjs.mjs``, checked in beside this module), which
loads the model once and then serves images over stdin/stdout in length-prefixed frames (JSON
header + raw float32 payload; see the script's header). So latency is per image, not per process.

Node packages come from the repo root's ``package.json`` / ``package-lock.json`` (``npm ci``):
``node_modules`` is looked up in ``$STYLEPORT_NODE_MODULES``, then beside the styleport checkout,
then in the current directory. Without node or those packages the runtime reports itself
unavailable with the fix, and parity marks it SKIPPED.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from styleport.errors import StyleportError, UsageError
from styleport.runtimes.base import RunInfo, Runtime, RuntimeUnavailable, Session, check_image

SCRIPT = Path(__file__).with_name("node") / "run_tfjs.mjs"
PACKAGES = ("@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm")
BACKENDS = ("wasm", "cpu")
FIX = "run `npm ci` in the styleport repository root (or set STYLEPORT_NODE_MODULES to a node_modules folder)"


def node_modules() -> Path | None:
    """The first node_modules folder holding every package in PACKAGES, or None."""
    candidates = []
    if os.environ.get("STYLEPORT_NODE_MODULES"):
        candidates.append(Path(os.environ["STYLEPORT_NODE_MODULES"]))
    candidates += [Path(__file__).resolve().parents[2] / "node_modules", Path.cwd() / "node_modules"]
    for folder in candidates:
        if all((folder / pkg / "package.json").is_file() for pkg in PACKAGES):
            return folder
    return None


def unavailable_reason() -> str | None:
    if shutil.which("node") is None:
        return f"node is not installed (install Node.js >= 18, then {FIX})"
    if not SCRIPT.is_file():
        return f"{SCRIPT} is missing from this styleport installation"
    if node_modules() is None:
        return f"the npm packages {', '.join(PACKAGES)} are not installed: {FIX}"
    return None


def _frame(header: dict, payload: bytes = b"") -> bytes:
    body = json.dumps({**header, "bytes": len(payload)}).encode()
    return struct.pack("<I", len(body)) + body + payload


class TFJSNodeSession(Session):
    def __init__(self, path: Path, backend: str, threads: int | None) -> None:
        if not (path / "model.json").is_file():
            raise StyleportError(f"{path}: not a TF.js graph model folder (no model.json)")
        modules = node_modules()
        if modules is None:
            raise RuntimeUnavailable(unavailable_reason() or FIX)
        self.path = path
        self.stderr = tempfile.TemporaryFile()
        cmd = ["node", str(SCRIPT), "--model", str(path), "--node-modules", str(modules), "--backend", backend]
        if threads:
            cmd += ["--threads", str(threads)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
        ready, _ = self._read()
        if not ready.get("ok"):
            self.close()
            raise StyleportError(f"{path}: TF.js ({backend}) cannot load this model: {ready.get('error')}")
        self.num_styles = int(ready.get("numStyles", 1))
        self.last_ms: float | None = None
        notes = f"tfjs {ready.get('tfjsVersion')}, simd={ready.get('simd')}"
        if backend == "wasm" and not ready.get("multithread"):
            notes += ", single-threaded (tfjs-backend-wasm disables threads under Node)"
        self.info = RunInfo(
            runtime="tfjs-node",
            device=f"node-{ready.get('backend')}",
            provider=f"@tensorflow/tfjs {ready.get('backend')} backend",
            threads=int(ready.get("threads") or 1),
            notes=notes,
        )

    def _read_exact(self, n: int) -> bytes:
        data = self.proc.stdout.read(n) if n else b""
        if len(data) != n:
            self.proc.wait(timeout=10)
            self.stderr.seek(0)
            tail = self.stderr.read().decode(errors="replace").strip().splitlines()[-3:]
            raise StyleportError(
                f"{self.path}: the TF.js Node process exited (code {self.proc.returncode}): {' | '.join(tail)}"
            )
        return data

    def _read(self) -> tuple[dict, bytes]:
        (length,) = struct.unpack("<I", self._read_exact(4))
        header = json.loads(self._read_exact(length))
        return header, self._read_exact(int(header.get("bytes", 0)))

    def run(self, image: np.ndarray, style_weights: np.ndarray | None = None) -> np.ndarray:
        image = check_image(image)
        h, w = image.shape[:2]
        sw = None
        if style_weights is not None:
            sw = [float(v) for v in np.asarray(style_weights, np.float32).reshape(-1)]  # (S,) or (1,S) -> list
            if self.num_styles == 1 and len(sw) > 1:
                raise UsageError(f"{self.path}: a single-style model takes no style weights")
            if self.num_styles > 1 and len(sw) != self.num_styles:
                raise UsageError(f"{self.path}: expects {self.num_styles} style weights, got {len(sw)}")
        if self.proc.poll() is not None:
            raise StyleportError(f"{self.path}: the TF.js Node process is no longer running")
        payload = image.astype("<f4", copy=False).tobytes()  # (H,W,3) row-major float32 LE
        self.proc.stdin.write(_frame({"cmd": "run", "height": h, "width": w, "styleWeights": sw}, payload))
        self.proc.stdin.flush()
        header, data = self._read()
        if not header.get("ok"):
            raise StyleportError(f"{self.path}: TF.js run failed at {h}x{w}: {header.get('error')}")
        self.last_ms = float(header["ms"])
        # flat float32 -> (H,W,3)
        return np.frombuffer(data, dtype="<f4").reshape(header["height"], header["width"], 3).astype(np.float32)

    def close(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.write(_frame({"cmd": "quit"}))
                proc.stdin.close()
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        if proc is not None and proc.stdout:
            proc.stdout.close()
        self.stderr.close()


class TFJSNodeRuntime(Runtime):
    name = "tfjs-node"
    formats = ("tfjs",)
    enable_hint = FIX

    def device_for(self, device: str) -> str | None:
        # --device cpu means "on the CPU": the wasm backend, not tfjs' 25 s/image reference cpu backend
        return "auto" if device in ("auto", "cpu") else None

    @classmethod
    def availability(cls) -> str | None:
        return unavailable_reason()

    def open(self, path: Path, device: str = "auto", threads: int | None = None, **options) -> Session:
        """``device``: "auto"/"wasm" (default) or "cpu" (the slow reference backend)."""
        backend = "wasm" if device in ("auto", "wasm") else device
        if backend not in BACKENDS:
            raise UsageError(f"tfjs-node: unknown device '{device}' (choose from: auto, {', '.join(BACKENDS)})")
        if options:
            raise UsageError(f"tfjs-node: unknown options {', '.join(sorted(options))} (known: threads)")
        reason = unavailable_reason()
        if reason:
            raise RuntimeUnavailable(reason)
        return TFJSNodeSession(Path(path), backend, threads)
