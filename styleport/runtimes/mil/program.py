"""Load the MIL program of a saved .mlpackage and execute it op by op in numpy.

The package layout (``Manifest.json`` -> ``Data/com.apple.CoreML/model.mlmodel``, a CoreML
``Model`` protobuf whose ``mlProgram`` holds the MIL functions, plus ``weights/weight.bin``) is
parsed with coremltools' generated proto classes; nothing else of coremltools is used, so the
interpreter checks the file Apple's runtime would load, not coremltools' in-memory program.

fp16 emulation: every op result is rounded to the dtype the program declares for it (fp16
programs therefore store every intermediate in fp16, as CoreML's GPU/ANE paths do). Inside one
op the arithmetic is fp32 (conv accumulation, instance-norm statistics); Apple's hardware may
accumulate differently, so fp16 results agree with Apple's to fp16 rounding, not bit for bit.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from styleport.errors import require
from styleport.runtimes.mil import registry
from styleport.runtimes.mil.values import PROTO_DTYPES, BlobFile, MILError, decode_value, tensor_shape


@dataclasses.dataclass(frozen=True)
class Var:
    """A named tensor the program declares: dtype number and shape (None = dynamic dim)."""

    name: str
    dtype: int
    shape: tuple[int | None, ...]

    @property
    def numpy_dtype(self) -> np.dtype:
        if self.dtype not in PROTO_DTYPES:
            raise MILError(f"variable '{self.name}' has unsupported dtype number {self.dtype}")
        return PROTO_DTYPES[self.dtype][1]


@dataclasses.dataclass(frozen=True)
class Op:
    """One operation: its MIL type, argument bindings (var names or constant values) and outputs."""

    type: str
    args: dict[str, list[Any]]  # param -> [("var", name) | ("value", array), ...]
    outputs: tuple[Var, ...]


def _find_spec(package: Path) -> Path:
    """model.mlmodel inside an .mlpackage (via Manifest.json), or a bare .mlmodel file."""
    if package.is_file():
        return package
    manifest = package / "Manifest.json"
    if not manifest.exists():
        raise MILError(f"{package}: not an .mlpackage (no Manifest.json)")
    try:
        info = json.loads(manifest.read_text())
        root = info["itemInfoEntries"][info["rootModelIdentifier"]]
        spec = package / "Data" / root["path"]
    except (ValueError, KeyError, TypeError) as exc:
        raise MILError(f"{manifest}: malformed manifest ({exc})") from None
    if not spec.exists():
        raise MILError(f"{package}: the manifest names {spec.relative_to(package)}, which is missing")
    return spec


def _var(named_type) -> Var:
    vtype = named_type.type
    if vtype.WhichOneof("type") != "tensorType":
        raise MILError(f"'{named_type.name}' has type {vtype.WhichOneof('type')}; only tensors are supported")
    return Var(named_type.name, vtype.tensorType.dataType, tensor_shape(vtype.tensorType))


class Program:
    """The ``main`` function of an ML Program, ready to run."""

    def __init__(self, path: str | Path, function: str = "main") -> None:
        model_pb2 = require("coremltools.proto.Model_pb2", "coreml", "reading .mlpackage files")
        self.path = Path(path)
        spec_path = _find_spec(self.path)
        self.spec = model_pb2.Model()
        try:
            self.spec.ParseFromString(spec_path.read_bytes())
        except Exception as exc:  # protobuf raises DecodeError, a bare Exception subclass
            raise MILError(f"{spec_path}: corrupt model spec ({exc})") from None
        if self.spec.WhichOneof("Type") != "mlProgram":
            raise MILError(f"{self.path}: not an ML Program (model type {self.spec.WhichOneof('Type')})")
        functions = self.spec.mlProgram.functions
        if function not in functions:
            raise MILError(f"{self.path}: no function '{function}' (has {', '.join(functions)})")
        fn = functions[function]
        self.opset = fn.opset
        block = fn.block_specializations[fn.opset]
        self.inputs = tuple(_var(v) for v in fn.inputs)
        self.output_names = tuple(block.outputs)
        self._model_dir = spec_path.parent
        self._blobs: dict[str, BlobFile] = {}
        self.constants: dict[str, Any] = {}
        self.compressed: dict[str, Op] = {}  # output name -> its constexpr op (the stored compressed form)
        self.ops: list[Op] = []
        for proto_op in block.operations:
            if proto_op.blocks:
                raise MILError(f"op '{proto_op.type}' has nested blocks (control flow is not supported)")
            self._add(proto_op)
        self.is_fp16 = any(v.dtype == 10 for op in self.ops for v in op.outputs)

    def _decode(self, value) -> Any:
        return decode_value(value, self._model_dir, self._blobs)

    def _add(self, proto_op) -> None:
        outputs = tuple(_var(o) for o in proto_op.outputs)
        if proto_op.type == "const":
            self.constants[outputs[0].name] = self._decode(proto_op.attributes["val"])
            return
        op_def = registry.get(proto_op.type)  # unknown op -> UnsupportedOpError listing supported ops
        args: dict[str, list[Any]] = {}
        for key, argument in proto_op.inputs.items():
            bound = []
            for binding in argument.arguments:
                if binding.WhichOneof("binding") == "name":
                    bound.append(("var", binding.name))
                else:
                    bound.append(("value", self._decode(binding.value)))
            args[key] = bound
        for key, value in proto_op.attributes.items():
            if key != "name":  # attributes other than the op's name are constant parameters
                args[key] = [("value", self._decode(value))]
        op = Op(proto_op.type, args, outputs)
        if proto_op.type.startswith("constexpr_"):  # compile-time ops: decompress once, at load
            self._execute(op_def, op, self.constants)
            self.compressed[outputs[0].name] = op
        else:
            self.ops.append(op)

    @staticmethod
    def _resolve(op: Op, env: dict[str, Any]) -> dict[str, Any]:
        resolved = {}
        for key, bound in op.args.items():
            values = []
            for kind, item in bound:
                if kind == "var":
                    if item not in env:
                        raise MILError(f"op '{op.type}' reads '{item}' before it is defined")
                    item = env[item]
                if isinstance(item, np.ndarray) and item.dtype == np.float16:
                    item = item.astype(np.float32)  # compute in fp32; the result is rounded below
                values.append(item)
            resolved[key] = values[0] if len(values) == 1 else values
        return resolved

    @staticmethod
    def _execute(op_def: registry.OpDef, op: Op, env: dict[str, Any]) -> None:
        results = op_def.run(Program._resolve(op, env))
        results = results if isinstance(results, tuple) else (results,)
        if len(results) != len(op.outputs):
            raise MILError(f"op '{op.type}' produced {len(results)} outputs, the program declares {len(op.outputs)}")
        for var, value in zip(op.outputs, results, strict=True):
            value = np.asarray(value).astype(var.numpy_dtype, copy=False)  # fp16 programs round here
            if value.ndim != len(var.shape) or any(
                d is not None and d != s for d, s in zip(var.shape, value.shape, strict=False)
            ):
                raise MILError(f"op '{op.type}' output '{var.name}' has shape {value.shape}, declared {var.shape}")
            env[var.name] = value

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Execute the function. ``feeds``: input name -> array of the declared rank."""
        expected = {v.name for v in self.inputs}
        if set(feeds) != expected:
            raise MILError(f"inputs must be exactly {sorted(expected)}, got {sorted(feeds)}")
        env: dict[str, Any] = dict(self.constants)
        for var in self.inputs:
            value = np.asarray(feeds[var.name])
            if value.ndim != len(var.shape) or any(
                d is not None and d != s for d, s in zip(var.shape, value.shape, strict=False)
            ):
                raise MILError(f"input '{var.name}' has shape {value.shape}, the program expects {var.shape}")
            env[var.name] = value.astype(var.numpy_dtype)
        with np.errstate(over="ignore", invalid="ignore"):  # fp16 overflow -> inf, as on the device
            for op in self.ops:
                self._execute(registry.get(op.type), op, env)
        return {name: env[name] for name in self.output_names}

    def op_types(self) -> list[str]:
        """The distinct op types the program executes at run time."""
        return sorted({op.type for op in self.ops})
