"""The exporter contract and registry. Adding a format = one Exporter subclass + one runtime + one
tolerance row (styleport/tolerances.py).

Each exporter declares its name, file suffix, the pip extra it needs, the precisions it supports
and the format-specific options it accepts; ``validate`` checks a request against those
declarations before any work starts. Exporter modules import their heavy dependencies inside
methods only, so the registry can be listed without the extras installed.
"""

from __future__ import annotations

import dataclasses
import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from styleport.errors import UsageError
from styleport.precision import Precision

if TYPE_CHECKING:  # type hints only: listing formats (styleport --help) must not import torch
    from styleport.checkpoints import Checkpoint
    from styleport.model import TransformerNet


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    """A format-specific option (``--option name=value`` on the command line)."""

    help: str
    default: str
    choices: tuple[str, ...] = ()  # empty: free text, checked by the exporter


@dataclasses.dataclass(frozen=True)
class ExportRequest:
    """What to export: one format at one precision. Built by the CLI, checked by ``validate``."""

    format: str
    precision: Precision
    shapes: tuple[tuple[int, int], ...] = ()  # (H, W) pairs; empty = the format's default
    calibration_images: tuple[Path, ...] = ()  # photos for int8 calibration / fp16 range checks
    options: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Artifact:
    """One exported file (or folder, for .mlpackage / TF.js) and what it is."""

    format: str
    precision: Precision
    path: Path
    size_bytes: int
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # e.g. quantization scheme


class Exporter(ABC):
    name: ClassVar[str]
    suffix: ClassVar[str]  # ".onnx", ".mlpackage", "_tfjs" (a folder), ".tflite", ".ort"
    extra: ClassVar[str]  # pip extra, named in MissingDependencyError
    precisions: ClassVar[tuple[Precision, ...]]
    default_precision: ClassVar[Precision]
    runtime: ClassVar[str]  # name of the runtime (styleport.runtimes) that verifies the artifact
    options: ClassVar[Mapping[str, OptionSpec]] = {}
    description: ClassVar[str] = ""

    def validate(self, request: ExportRequest) -> None:
        """Reject a request this format cannot do, before any work. Subclasses may extend."""
        if request.precision not in self.precisions:
            ok = ", ".join(p.value for p in self.precisions)
            raise UsageError(f"{self.name} does not support precision {request.precision} (supported: {ok})")
        for key, value in request.options.items():
            spec = self.options.get(key)
            if spec is None:
                known = ", ".join(sorted(self.options)) or "none"
                raise UsageError(f"{self.name} has no option '{key}' (its options: {known})")
            if spec.choices and value not in spec.choices:
                raise UsageError(f"{self.name} option {key}={value}: choose from {', '.join(spec.choices)}")

    def option(self, request: ExportRequest, key: str) -> str:
        return request.options.get(key, self.options[key].default)

    def check_available(self) -> None:  # noqa: B027 -- optional hook; the default needs nothing
        """Raise MissingDependencyError if this machine cannot produce the format."""

    def filename(self, stem: str, precision: Precision) -> str:
        return f"{stem}_{precision.value}{self.suffix}"

    @abstractmethod
    def export(self, model: TransformerNet, checkpoint: Checkpoint, out: Path, request: ExportRequest) -> Artifact:
        """Write the artifact at ``out`` (a temp path the caller renames on success)."""


# name -> "module:Class"; modules are imported on first use.
_EXPORTERS: dict[str, str] = {}


def register(name: str, target: str) -> None:
    _EXPORTERS[name] = target


def names() -> list[str]:
    return list(_EXPORTERS)


def get(name: str) -> Exporter:
    if name not in _EXPORTERS:
        raise UsageError(f"unknown export format '{name}' (choose from: {', '.join(_EXPORTERS)}, all)")
    module, cls = _EXPORTERS[name].split(":")
    return getattr(importlib.import_module(module), cls)()
