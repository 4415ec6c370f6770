"""ONNX exporter: dynamic H/W, ``image`` (+ ``style_weights``) -> ``stylized``; fp32 / fp16 / int8.

Route: ``torch.onnx.export(dynamo=True)`` at opset 18 (the TorchScript exporter is deprecated and
emits a 306-node graph; the dynamo exporter gives ~69 nodes with symbolic ``height``/``width``),
then onnxsim, then a check that simplification changed no output. I/O contract: ``image``
(1,3,H,W) float32 RGB 0..255; ``style_weights`` (1,S) float32 for multi-style networks;
``stylized`` (1,3,H,W) float32 clamped to 0..255. fp16 keeps float32 I/O (casts inside) after the
fp16 range check of styleport.export.fp16; int8 is static QDQ chosen by measured quality
(styleport.export.onnx_int8).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np

from styleport import __version__
from styleport.checkpoints import Checkpoint
from styleport.errors import StyleportError, require
from styleport.export.base import Artifact, Exporter, ExportRequest, OptionSpec
from styleport.export.onnx_int8 import NAMED_SCHEMES
from styleport.export.ops import conversion_error
from styleport.model import TransformerNet
from styleport.onnx_norm import opset_version, two_stage_instance_norms
from styleport.precision import Precision

OPSET = 18  # dynamo exporter minimum; asking it for 17 silently writes 18
TRACE_SIZE = (64, 64)
IO_CONTRACT = (
    "input image: float32 (1,3,H,W) RGB 0..255, any H,W >= 5; "
    "input style_weights (multi-style only): float32 (1,S); output stylized: float32 (1,3,H,W) RGB 0..255"
)
_CACHE: dict[str, bytes] = {}  # fp32 graphs by weight hash: one torch export serves fp32/fp16/int8/ort
_CACHE_SIZE = 3


def _weights_key(model: TransformerNet) -> str:
    h = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True).encode())
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    for name, m in model.named_modules():
        if hasattr(m, "eps"):
            h.update(f"{name}:{m.eps!r}".encode())  # fp16 rescaling changes instance-norm eps
    return h.hexdigest()


def _run(proto, image: np.ndarray, style_weights: np.ndarray | None) -> np.ndarray:
    ort = require("onnxruntime", "onnx", "checking ONNX models")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sess = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feeds = {"image": image}
    if style_weights is not None:
        feeds["style_weights"] = style_weights
    return sess.run(None, feeds)[0]


def torch_to_onnx(
    model: TransformerNet, trace_size: tuple[int, int] = TRACE_SIZE, subpixel: bool = True, output_phases: bool = True
):
    """The simplified fp32 ModelProto of ``model`` (cached per weights); ``subpixel``: with the exact
    rewrites of ``styleport.subpixel`` -- the upsampling convs as 2x2 convs + DepthToSpace, and the last
    9x9 conv as space-to-depth, a 5x5 conv with 12 outputs, DepthToSpace (DESIGN.md; ``output_phases``)."""
    onnx = require("onnx", "onnx", "ONNX export")
    key = f"{_weights_key(model)}-{'subpixel' if subpixel else 'plain'}-{output_phases}"
    if key in _CACHE:
        return onnx.load_from_string(_CACHE[key])
    torch = __import__("torch")
    require("onnxscript", "onnx", "ONNX export")
    from styleport.subpixel import fuse

    if subpixel:
        model = fuse(model, output_phases)  # exact; upsampling convs: 2.25x fewer FLOPs; output conv 12-wide
    h, w = max(trace_size[0], 8), max(trace_size[1], 8)
    x = torch.rand(1, 3, h, w) * 255.0
    height = torch.export.Dim("height", min=8, max=16384)
    width = torch.export.Dim("width", min=8, max=16384)
    if model.num_styles > 1:
        args = (x, model.default_style_weights(0))
        names, dynamic = ["image", "style_weights"], ({2: height, 3: width}, None)
    else:
        args, names, dynamic = (x,), ["image"], ({2: height, 3: width},)
    # torch.onnx logs one warning per torchvision op it cannot register; not our concern
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        raw_path = Path(tmp) / "raw.onnx"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    model.eval(),
                    args,
                    str(raw_path),
                    dynamo=True,
                    opset_version=OPSET,
                    input_names=names,
                    output_names=["stylized"],
                    dynamic_shapes=dynamic,
                    verbose=False,
                )
        except Exception as exc:  # the exporter raises many types; name the op if we can
            raise conversion_error("onnx", exc) from exc
        raw = onnx.load(str(raw_path))
    proto = simplify(raw, model.num_styles)
    while len(_CACHE) >= _CACHE_SIZE:  # bounded memory: drop the oldest graph
        del _CACHE[next(iter(_CACHE))]
    _CACHE[key] = proto.SerializeToString()
    return proto


def simplify(raw, num_styles: int):
    """onnxsim, then prove it changed nothing: same output on an odd-sized input."""
    onnxsim = require("onnxsim", "onnx", "simplifying ONNX models")
    try:
        simplified, ok = onnxsim.simplify(raw)
    except Exception as exc:
        raise conversion_error("onnx (onnxsim)", exc) from exc
    if not ok:
        raise StyleportError("onnx export: onnxsim could not validate the simplified model")
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, size=(1, 3, 37, 53)).astype(np.float32)
    sw = np.full((1, num_styles), 1.0 / num_styles, np.float32) if num_styles > 1 else None
    diff = float(np.abs(_run(raw, image, sw) - _run(simplified, image, sw)).max())
    if diff > 1e-3:
        raise StyleportError(f"onnx export: onnxsim changed the output (max abs {diff:.3g} on a 37x53 input)")
    return simplified


def set_metadata(proto, checkpoint: Checkpoint, precision: Precision, details: dict) -> None:
    """Fill model-level metadata (Netron and ``session.get_modelmeta()`` show it)."""
    meta = checkpoint.metadata
    licenses = sorted({s.get("license", "") for s in meta.get("styles", []) if isinstance(s, dict)} - {""})
    props = {
        "styleport.version": __version__,
        "styleport.precision": precision.value,
        "styleport.style_names": json.dumps(checkpoint.style_names),
        "styleport.num_styles": str(checkpoint.config.num_styles),
        "styleport.config": json.dumps(checkpoint.config.to_dict()),
        "styleport.io": IO_CONTRACT,
        "license": ", ".join(licenses) or str(meta.get("license", "unspecified")),
        "styleport.details": json.dumps(details, default=str),
    }
    if meta.get("description"):
        props["description"] = str(meta["description"])
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "styleport"
    proto.producer_version = __version__
    proto.doc_string = f"styleport {checkpoint.config.arch} style network ({precision.value}). {IO_CONTRACT}"


def to_fp16(proto):
    """fp16 weights and compute, float32 inputs/outputs (Casts at the edges)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_float_to_float16(proto, keep_io_types=True)


class OnnxExporter(Exporter):
    name = "onnx"
    suffix = ".onnx"
    extra = "onnx"
    precisions = (Precision.FP32, Precision.FP16, Precision.INT8)
    default_precision = Precision.FP32
    runtime = "onnxruntime"
    description = "ONNX (opset 18, dynamic H/W) for ONNX Runtime, onnxruntime-web, TensorRT"
    options = {
        "int8_scheme": OptionSpec(
            "int8 quantization scheme; 'auto' measures every candidate on the calibration photos and keeps the best;"
            " a8w8-pc-enc (by name only): integer convs in ONNX Runtime, the fast one (docs/performance.md)",
            "auto",
            ("auto", *(scheme.name for scheme in NAMED_SCHEMES)),
        ),
    }

    def check_available(self) -> None:
        for module in ("onnx", "onnxscript", "onnxsim", "onnxruntime"):
            require(module, self.extra, "ONNX export")

    def build(self, model: TransformerNet, checkpoint: Checkpoint, request: ExportRequest):
        """(ModelProto, details) for the request; shared with the ORT-format exporter."""
        trace = request.shapes[0] if request.shapes else TRACE_SIZE
        details: dict = {"opset": OPSET, "exporter": "torch.onnx dynamo + onnxsim"}
        if request.precision == Precision.FP16:
            from styleport.export.fp16 import fp16_safe_model

            safe, report = fp16_safe_model(model, request.calibration_images)
            details.update(report.details())
            proto = to_fp16(torch_to_onnx(safe, trace))
        elif request.precision == Precision.INT8:
            from styleport.export.onnx_int8 import quantize

            proto, chosen = quantize(
                torch_to_onnx(model, trace, subpixel=False), model, request, self.option(request, "int8_scheme")
            )
            details.update(chosen)
        else:  # fp32: instance-norm statistics that stay accurate at full-HD sizes (styleport/onnx_norm.py)
            proto = two_stage_instance_norms(torch_to_onnx(model, trace))
            details["instance_norm"] = "two-stage statistics (means of row means)"
        # 16-bit QDQ needs opset 21: the quantizer upgrades the graph
        details["opset"] = opset_version(proto)
        set_metadata(proto, checkpoint, request.precision, details)
        return proto, details

    def export(self, model: TransformerNet, checkpoint: Checkpoint, out: Path, request: ExportRequest) -> Artifact:
        onnx = require("onnx", self.extra, "ONNX export")
        proto, details = self.build(model, checkpoint, request)
        onnx.save(proto, str(out))
        return Artifact(self.name, request.precision, out, out.stat().st_size, details)
