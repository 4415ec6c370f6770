"""ORT format (``.ort``) for ONNX Runtime Mobile (Android / iOS minimal builds).

Built from the same graph as the ONNX exporter (same precisions, same fp16 range check, same int8
scheme selection), then converted the way onnxruntime's ``convert_onnx_models_to_ort`` tool does:
an InferenceSession that saves its optimized graph in ORT format, with the x86-only NCHWc layout
transformer disabled (the file must run on ARM) and int8 QDQ kept for ARM
(``session.qdqisint8allowed``). Style ``fixed`` bakes the optimizations in; ``runtime`` saves them
to be applied on the device, after execution providers (NNAPI, XNNPACK, CoreML) took their nodes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from styleport.checkpoints import Checkpoint
from styleport.errors import StyleportError, require
from styleport.export.base import Artifact, ExportRequest, OptionSpec
from styleport.export.onnx import OnnxExporter
from styleport.model import TransformerNet
from styleport.precision import Precision


class OrtExporter(OnnxExporter):
    name = "ort"
    suffix = ".ort"
    description = "ORT format for ONNX Runtime Mobile (Android, iOS)"
    options = {
        **OnnxExporter.options,
        "optimization": OptionSpec(
            "ORT optimization style: fixed (baked in) or runtime (applied on device after EP partitioning)",
            "fixed",
            ("fixed", "runtime"),
        ),
    }

    def export(self, model: TransformerNet, checkpoint: Checkpoint, out: Path, request: ExportRequest) -> Artifact:
        ort = require("onnxruntime", self.extra, "ORT format export")
        proto, details = self.build(model, checkpoint, request)
        style = self.option(request, "optimization")
        level = save_ort(proto, out, request.precision, style)
        if not out.exists():
            raise StyleportError("ort export: onnxruntime wrote no ORT file")
        details = {**details, "ort_optimization": style, "ort_level": level, "ort_version": ort.__version__}
        return Artifact(self.name, request.precision, out, out.stat().st_size, details)


def save_ort(proto, out: Path, precision: Precision, style: str = "fixed") -> str:
    """Write ``proto`` (an ONNX ModelProto) to ``out`` in ORT format, as the exporter does; returns the
    optimization level used. Also how the verification re-quantizes an 8-bit activation .ort file
    (``styleport.verification.references``): ORT's own rewrites must be the same on both sides."""
    onnx = require("onnx", "onnx", "ORT format export")
    ort = require("onnxruntime", "onnx", "ORT format export")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "model.onnx"
        onnx.save(proto, str(src))
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # fp16: x86 ORT's CPU provider casts fp16 to fp32, and at level "all" constant folding then
        # stores fp32 copies of every weight (measured: the .ort grew past the fp32 one). "basic"
        # keeps the fp16 initializers (the CPU casts stay as nodes).
        level = "basic" if precision == Precision.FP16 else "all"
        options.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
            if level == "basic"
            else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        )
        options.optimized_model_filepath = str(out)
        options.add_session_config_entry("session.save_model_format", "ORT")
        options.add_session_config_entry("session.qdqisint8allowed", "1")  # target: ARM
        if style == "runtime":
            options.add_session_config_entry("optimization.minimal_build_optimizations", "save")
        try:
            ort.InferenceSession(
                str(src), options, providers=["CPUExecutionProvider"], disabled_optimizers=["NchwcTransformer"]
            )
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StyleportError(
                f"ort export: onnxruntime could not convert the model to ORT format ({first})"
            ) from None
    return level
