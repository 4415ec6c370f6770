"""What an existing artifact is, read from the file: format, precision, inputs, layout, styles.

``styleport verify`` gets files that styleport may not have made in this session (another
optimizer ran on them, they came out of an app bundle). Each is identified by its shape on disk
(``.onnx``, ``.ort``, ``.tflite``, a ``.mlpackage`` folder, a TF.js folder with ``model.json``) and
parsed completely, so a truncated or corrupt file is refused here, before anything runs. The
precision comes from the styleport metadata embedded at export, else from the weights themselves
(QDQ nodes, fp16 initializers, int8 tensors, constexpr ops, TF.js quantization entries), unless
``--precision`` overrides it. ``check_against`` refuses an artifact whose input names, layout or
style count do not fit the model.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from styleport.errors import StyleportError, require
from styleport.precision import Precision
from styleport.verification import provenance

# The layout each format's contract uses for the `image` input (README, "The model contract").
LAYOUTS = {"onnx": "NCHW", "ort": "NCHW", "coreml": "NCHW", "tflite": "NHWC", "tfjs": "NHWC"}


class ArtifactError(StyleportError):
    """A file given for verification is not a usable artifact for this model (bad input: exit 2)."""

    exit_code = 2


@dataclasses.dataclass(frozen=True)
class ArtifactInfo:
    path: Path
    format: str
    precision: Precision
    precision_from: str  # "styleport metadata" | "the weights" | "--precision"
    inputs: tuple[str, ...]
    layout: str  # "NCHW" | "NHWC" | "image" (CoreML image input)
    num_styles: int
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # e.g. {"io": "image"}
    sizes: tuple[tuple[int, int], ...] = ()  # enumerated input sizes (H, W); empty: any size
    provenance: Mapping[str, Any] | None = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def identify(path: Path) -> str:
    """The format of ``path`` from its shape on disk, or ArtifactError naming what it is not."""
    if not path.exists():
        raise ArtifactError(f"{path}: no such file or folder")
    if path.is_dir():
        if path.suffix == ".mlpackage":
            return "coreml"
        if (path / "model.json").is_file():
            return "tfjs"
        raise ArtifactError(
            f"{path}: a folder that is not a model package (expected a .mlpackage or a TF.js folder with model.json)"
        )
    kind = {".onnx": "onnx", ".ort": "ort", ".tflite": "tflite"}.get(path.suffix.lower())
    if kind is None:
        raise ArtifactError(
            f"{path}: unknown artifact type '{path.suffix or '(no suffix)'}' "
            "(styleport verifies .onnx, .ort, .tflite files and .mlpackage / TF.js folders)"
        )
    return kind


def _palette_bits(model) -> Precision | None:
    """palette6 / palette4 from the LUT size of a palettized program's first ``constexpr_lut_to_dense``.

    The LUT is (2^bits,) in the iOS16 opset and (..., 2^bits, vector size) in iOS18.
    """
    for block in model.program.spec.mlProgram.functions["main"].block_specializations.values():
        for op in block.operations:
            if op.type == "constexpr_lut_to_dense" and "lut" in op.attributes:
                dims = [int(d.constant.size) for d in op.attributes["lut"].type.tensorType.dimensions]
                entries = dims[-1] if len(dims) == 1 else dims[-2] if len(dims) > 1 else 0
                return {64: Precision.PALETTE6, 16: Precision.PALETTE4}.get(entries)
    return None


def _precision(meta_value: str | None, found: Precision | None, override: Precision | None, path: Path):
    if override is not None:
        return override, "--precision"
    if meta_value:
        return Precision.parse(meta_value), "styleport metadata"
    if found is not None:
        return found, "the weights"
    raise ArtifactError(f"{path}: cannot tell its precision (no styleport metadata): pass --precision")


def _onnx(path: Path):
    onnx = require("onnx", "onnx", "reading ONNX files")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError and friends
        raise ArtifactError(f"{path}: unreadable ONNX file, truncated or corrupt ({_first_line(exc)})") from None
    if not proto.graph.node:
        raise ArtifactError(f"{path}: not an ONNX model (no graph)")
    meta = {p.key: p.value for p in proto.metadata_props}
    ops = {n.op_type for n in proto.graph.node}
    found = Precision.FP32
    if ops & {"QuantizeLinear", "DequantizeLinear"}:
        found = Precision.INT8
    elif any(t.data_type == onnx.TensorProto.FLOAT16 for t in proto.graph.initializer):
        found = Precision.FP16
    inits = {t.name for t in proto.graph.initializer}
    shapes = {
        i.name: [d.dim_value if d.HasField("dim_value") else -1 for d in i.type.tensor_type.shape.dim]
        for i in proto.graph.input
        if i.name not in inits
    }
    details = _details(meta.get("styleport.details"))
    if found is Precision.INT8 and "int8_scheme" not in details:  # another tool's file: read the activations
        zero_points = {t.name: t.data_type for t in proto.graph.initializer}
        bits = {
            zero_points.get(n.input[2]) for n in proto.graph.node
            if n.op_type == "QuantizeLinear" and n.input[0] not in inits and len(n.input) > 2
        }  # fmt: skip
        if bits & {onnx.TensorProto.UINT8, onnx.TensorProto.INT8}:
            details["int8_scheme"] = "a8 (activations read from the file)"
    return meta.get("styleport.precision"), found, shapes, {"details": details}


def _details(text: str | bytes | None) -> dict:
    """The exporter's details recorded in the file's metadata (``styleport.details``, JSON), or {}."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _ort(path: Path):
    with open(path, "rb") as f:
        head = f.read(8)
    if head[4:8] != b"ORTM":
        raise ArtifactError(f"{path}: not an ORT-format model (no ORTM identifier)")
    ort = require("onnxruntime", "onnx", "reading ORT-format files")
    from onnxruntime.tools.ort_format_model.ort_flatbuffers_py.fbs import InferenceSession as fbs

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        model = fbs.InferenceSession.GetRootAsInferenceSession(path.read_bytes(), 0).Model()
        graph = model.Graph()
        meta = {
            model.MetadataProps(i).Key(): model.MetadataProps(i).Value() for i in range(model.MetadataPropsLength())
        }
        ops = {graph.Nodes(i).OpType() for i in range(graph.NodesLength())}
        dtypes = {graph.Initializers(i).DataType() for i in range(graph.InitializersLength())}
    except Exception as exc:  # ORT's own Fail types; flatbuffer reads past a truncated end
        raise ArtifactError(f"{path}: unreadable ORT file, truncated or corrupt ({_first_line(exc)})") from None
    found = Precision.FP32
    if ops & {b"QuantizeLinear", b"DequantizeLinear"}:
        found = Precision.INT8
    elif 10 in dtypes:  # TensorDataType FLOAT16
        found = Precision.FP16
    shapes = {i.name: [d if isinstance(d, int) else -1 for d in i.shape] for i in session.get_inputs()}
    value = meta.get(b"styleport.precision")
    return value.decode() if value else None, found, shapes, {"details": _details(meta.get(b"styleport.details"))}


def _tflite(path: Path):
    require("ai_edge_litert", "tflite", "reading .tflite files")
    from styleport.runtimes.litert import _interpreter_class, read_metadata

    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ArtifactError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        meta = read_metadata(path) or {}
        interp = _interpreter_class()(model_content=data)
    except (StyleportError, ValueError, RuntimeError) as exc:
        detail = _first_line(exc).removeprefix(f"{path}: ")
        raise ArtifactError(f"{path}: unreadable TFLite file, truncated or corrupt ({detail})") from None
    dtypes = {str(t["dtype"].__name__) for t in interp.get_tensor_details()}
    found = Precision.INT8 if "int8" in dtypes else Precision.FP16 if "float16" in dtypes else Precision.FP32
    shapes = {}
    for d in interp.get_input_details():
        name = d["name"].removeprefix("serving_default_").split(":")[0]
        shapes[name] = [int(v) for v in d["shape_signature"]]
    details = {"int8_reconvert": meta["int8_reconvert"]} if "int8_reconvert" in meta else {}
    return meta.get("precision"), found, shapes, {"details": details}


def _tfjs(path: Path):
    try:
        model = json.loads((path / "model.json").read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: unreadable model.json ({_first_line(exc)})") from None
    quantized, expected, present = set(), 0, 0
    for group in model.get("weightsManifest", []):
        for w in group.get("weights", []):
            q = w.get("quantization", {}).get("dtype")
            quantized.add(q or w.get("dtype"))
            itemsize = {"uint8": 1, "float16": 2}.get(q, 4)
            expected += itemsize * math.prod(int(v) for v in w.get("shape", []))
        for shard in group.get("paths", []):
            if not (path / shard).is_file():
                raise ArtifactError(f"{path}: weight shard {shard} named by model.json is missing")
            present += (path / shard).stat().st_size
    if present != expected:
        raise ArtifactError(f"{path}: weight shards hold {present} bytes, model.json describes {expected} (truncated?)")
    found = Precision.UINT8 if "uint8" in quantized else Precision.FP16 if "float16" in quantized else Precision.FP32
    meta = model.get("userDefinedMetadata", {}).get("styleport", {})
    shapes = {}
    for key, spec in model.get("signature", {}).get("inputs", {}).items():
        dims = spec.get("tensorShape", {}).get("dim", [])
        shapes[key.split(":")[0]] = [int(d.get("size", -1)) for d in dims]
    return meta.get("precision"), found, shapes, {}


def _coreml(path: Path):
    require("coremltools", "coreml", "reading .mlpackage files")
    from styleport.runtimes.mil import Interpreter

    try:
        model = Interpreter(path)  # parses the spec and decodes every weight blob
    except StyleportError as exc:
        raise ArtifactError(f"{path}: unreadable .mlpackage, truncated or corrupt ({_first_line(exc)})") from None
    spec_ops = {o.type for fn in model.program.spec.mlProgram.functions.values() for b in fn.block_specializations.values() for o in b.operations}  # fmt: skip
    found = Precision.FP16 if model.program.is_fp16 else Precision.FP32
    if "constexpr_affine_dequantize" in spec_ops or "constexpr_blockwise_shift_scale" in spec_ops:
        found = Precision.INT8
    elif "constexpr_lut_to_dense" in spec_ops:
        found = _palette_bits(model)
    image = model.inputs.get("image")
    shapes, sizes, details = {}, (), {}
    for name, feature in model.inputs.items():
        shapes[name] = list(feature.fixed) or ([1, 3, -1, -1] if feature.kind == "tensor" else [])
    if image is not None:
        details["io"] = image.kind  # "image" (8-bit RGB pixels) or "tensor"
        if image.kind == "image":
            shapes["image"] = ["image"]
            sizes = tuple((s[0], s[1]) for s in image.enumerated)
        else:
            sizes = tuple((s[2], s[3]) for s in image.enumerated)
    return model.metadata.get("styleport.precision"), found, shapes, {"details": details, "sizes": sizes}


READERS = {"onnx": _onnx, "ort": _ort, "tflite": _tflite, "tfjs": _tfjs, "coreml": _coreml}


def _layout(shape: list) -> str:
    if shape == ["image"]:
        return "image"
    if len(shape) == 4 and shape[1] == 3:
        return "NCHW"
    if len(shape) == 4 and shape[3] == 3:
        return "NHWC"
    return f"shape {shape}"


def inspect(path: str | Path, precision: Precision | None = None, metadata: bool = True) -> ArtifactInfo:
    """Identify and parse ``path`` completely. ArtifactError for anything that is not a readable artifact.

    ``precision`` overrides what the file says; ``metadata=False`` ignores the embedded styleport
    metadata and tells the precision from the weights alone (as for a file from another tool).
    """
    path = Path(path)
    fmt = identify(path)
    meta_precision, weights_precision, shapes, extra = READERS[fmt](path)
    found, source = _precision(meta_precision if metadata else None, weights_precision, precision, path)
    style_shape = shapes.get("style_weights")
    return ArtifactInfo(
        path=path,
        format=fmt,
        precision=found,
        precision_from=source,
        inputs=tuple(shapes),
        layout=_layout(shapes["image"]) if "image" in shapes else "-",
        num_styles=int(style_shape[-1]) if style_shape else 1,
        details=extra.get("details", {}),
        sizes=extra.get("sizes", ()),
        provenance=provenance.read(path),
    )


def check_against(info: ArtifactInfo, num_styles: int) -> None:
    """Refuse an artifact that cannot be this model's: input names, layout or style count differ."""
    expected = ("image", "style_weights") if num_styles > 1 else ("image",)
    if sorted(info.inputs) != sorted(expected):
        raise ArtifactError(
            f"{info.path}: inputs {', '.join(info.inputs) or '(none)'} do not match the model's {', '.join(expected)}"
        )
    want = LAYOUTS[info.format]
    if info.layout not in (want, "image"):
        raise ArtifactError(f"{info.path}: input 'image' is {info.layout}; a styleport {info.format} file takes {want}")
    if info.num_styles != num_styles:
        raise ArtifactError(f"{info.path}: takes {info.num_styles} style weights, the model has {num_styles} style(s)")
