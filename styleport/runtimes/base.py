"""The one small interface every runtime implements, so parity treats them all alike.

A runtime loads one artifact and runs RGB images through it::

    rt = runtimes.get("onnxruntime").open(path, device="cpu")
    out = rt.run(image)          # (H,W,3) float32 RGB 0..255 -> (H,W,3) float32 RGB 0..255
    rt.info                      # what actually ran: device, provider, threads, notes
    rt.input_bits                # 8 if the artifact takes 8-bit pixels (CoreML image I/O), else None

``availability()`` returns None when the runtime can run here, else the reason and how to enable
it; the parity suite reports such runtimes as SKIPPED with that text, never as passed. Each runtime
owns its device knowledge: ``device_for`` maps the user's --device to one it has (or None), and
``describe`` says in words what actually ran (styleport.verification labels every number with it).
"""

from __future__ import annotations

import dataclasses
import importlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np

from styleport.errors import StyleportError, UsageError


class RuntimeUnavailable(StyleportError):
    """The runtime cannot run on this machine; the message says why and how to enable it."""


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What actually executed (reported next to every number)."""

    runtime: str
    device: str  # "cpu", "cuda:0", "mps", "node-wasm", "linux-interpreter", ...
    provider: str = ""  # execution provider / backend / delegate actually used
    threads: int | None = None
    notes: str = ""  # e.g. "requested CUDAExecutionProvider, fell back to CPU"


class Session(ABC):
    """One loaded artifact, ready to run."""

    info: RunInfo
    # Input quantization the artifact applies: 8 = pixels are rounded to uint8 before the network
    # (CoreML image inputs); None = float input. The verification engine feeds the reference the
    # same rounded image, so the comparison measures the network, not the input rounding.
    input_bits: int | None = None

    @abstractmethod
    def run(self, image: np.ndarray, style_weights: np.ndarray | None = None) -> np.ndarray:
        """(H,W,3) float32 RGB 0..255 [+ (S,) style weights] -> (H,W,3) float32 RGB 0..255."""

    def close(self) -> None:  # noqa: B027 -- optional hook; most sessions hold nothing to release
        """Release resources (processes, sessions)."""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Runtime(ABC):
    name: ClassVar[str]
    formats: ClassVar[tuple[str, ...]]  # exporter names whose artifacts it runs
    enable_hint: ClassVar[str] = ""  # e.g. "pip install 'styleport[onnx]'"

    @classmethod
    @abstractmethod
    def availability(cls) -> str | None:
        """None if usable here, else the reason (including how to enable it)."""

    @abstractmethod
    def open(self, path: Path, device: str = "auto", **options) -> Session:
        """Load an artifact. Raise RuntimeUnavailable if this machine cannot run it."""

    def device_for(self, device: str) -> str | None:
        """The device to open with for a user's ``auto`` / ``cpu`` / ``cuda``, or None if it has no such device."""
        return "auto" if device == "auto" else None

    def describe(self, info: RunInfo | None) -> str:
        """What actually ran, in words (reported next to every number)."""
        if info is None:
            return self.name
        parts = [info.runtime, info.provider or info.device]
        if info.threads:
            parts.append(f"{info.threads} threads")
        return " / ".join(p for p in parts if p) + (f" ({info.notes})" if info.notes else "")


def check_image(image: np.ndarray) -> np.ndarray:
    """Validate and normalise a runtime input to contiguous (H,W,3) float32."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H,W,3) RGB array, got shape {image.shape}")
    return np.ascontiguousarray(image, dtype=np.float32)


_RUNTIMES: dict[str, str] = {}


def register(name: str, target: str) -> None:
    _RUNTIMES[name] = target


def names() -> list[str]:
    return list(_RUNTIMES)


def get(name: str) -> Runtime:
    if name not in _RUNTIMES:
        raise UsageError(f"unknown runtime '{name}' (choose from: {', '.join(_RUNTIMES)})")
    module, cls = _RUNTIMES[name].split(":")
    return getattr(importlib.import_module(module), cls)()
