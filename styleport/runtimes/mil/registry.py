"""The MIL op registry: op name (exactly as the MIL spec spells it) -> validated kernel.

Each kernel is a private function whose docstring states the op's semantics (from Apple's MIL op
reference, coremltools ``mil/ops/defs/iOS15..iOS18``). ``OpDef.run`` is the public entry point:
it checks the arguments against the kernel's signature (required present, nothing unknown) and
then calls the kernel. Kernels receive numpy arrays (fp16 already widened to fp32 by the program,
which rounds each result back to the dtype the program declares) and python strings.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from styleport.runtimes.mil.values import MILError


class UnsupportedOpError(MILError):
    """The program uses an op this interpreter does not implement."""


@dataclasses.dataclass(frozen=True)
class OpDef:
    name: str
    kernel: Callable[..., Any]
    required: tuple[str, ...]
    optional: tuple[str, ...]

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.kernel) or ""

    def run(self, args: dict[str, Any]) -> Any:
        """Validate ``args`` against the op's parameters, then execute the kernel."""
        missing = [p for p in self.required if p not in args]
        if missing:
            raise MILError(f"op '{self.name}' is missing required input(s): {', '.join(missing)}")
        unknown = sorted(set(args) - set(self.required) - set(self.optional))
        if unknown:
            raise MILError(f"op '{self.name}' got unknown input(s): {', '.join(unknown)}")
        return self.kernel(**args)


OPS: dict[str, OpDef] = {}


def mil_op(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``kernel`` as the implementation of MIL op ``name``."""

    def decorate(kernel: Callable[..., Any]) -> Callable[..., Any]:
        params = inspect.signature(kernel).parameters.values()
        required = tuple(p.name for p in params if p.default is inspect.Parameter.empty)
        optional = tuple(p.name for p in params if p.default is not inspect.Parameter.empty)
        OPS[name] = OpDef(name, kernel, required, optional)
        return kernel

    return decorate


def supported_ops() -> list[str]:
    _load_kernels()
    return sorted(OPS) + ["const"]


def get(name: str) -> OpDef:
    _load_kernels()
    if name not in OPS:
        raise UnsupportedOpError(
            f"MIL op '{name}' is not supported by the styleport interpreter (supported: {', '.join(supported_ops())})"
        )
    return OPS[name]


def _load_kernels() -> None:
    # Importing the kernel modules registers their ops.
    from styleport.runtimes.mil import ops_constexpr, ops_nn, ops_tensor  # noqa: F401
