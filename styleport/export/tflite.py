"""TFLite exporter: the TensorFlow graph of ``tfgraph`` through ``tf.lite.TFLiteConverter``.

Precisions:
- fp32: plain conversion.
- fp16: weights stored as float16 (half the size); CPU kernels dequantize them to fp32, the GPU
  delegate computes in fp16 -- so the network's activation ranges are checked for fp16 first.
- int8: dynamic-range quantization (``Optimize.DEFAULT`` without a representative dataset):
  int8 weights, activations quantized on the fly per inference by the hybrid kernels.

The styleport metadata (style names, license, I/O contract, precision) is embedded as JSON in the
flatbuffer's metadata list under the name ``styleport``. The file keeps the SavedModel's
``serving_default`` signature (inputs ``image`` [1,-1,-1,3] and, for multi-style networks,
``style_weights`` [1,S]; output ``stylized``), so H and W stay dynamic: the runtime resizes the
input tensor per image (``resize_tensor_input``).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from styleport.checkpoints import Checkpoint
from styleport.errors import StyleportError
from styleport.export import tfgraph
from styleport.export.base import Artifact, Exporter, ExportRequest
from styleport.fileutil import atomic_output
from styleport.model import TransformerNet
from styleport.precision import Precision

METADATA_NAME = "styleport"  # name of the flatbuffer metadata entry holding tfgraph.describe() as JSON


def convert(saved_model: Path, precision: Precision) -> bytes:
    """SavedModel directory -> TFLite flatbuffer bytes at ``precision``."""
    tf = tfgraph.import_tf("tflite")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=["serving_default"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Select TF ops: plain LiteRT
    if precision is Precision.FP16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision is Precision.INT8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # no representative dataset: dynamic range
    try:
        return converter.convert()
    except Exception as exc:  # converter errors are ConverterError / RuntimeError with long MLIR dumps
        text = str(exc)
        # MLIR reports each unsupported op as "'tf.Foo' op is neither a custom op nor a flex op"
        ops = sorted(set(re.findall(r"'tf\.(\w+)' op is neither", text)))
        if ops:
            raise StyleportError(
                f"TFLite conversion failed at {precision}: op(s) not supported by TFLite builtins: {', '.join(ops)}"
            ) from None
        lines = [ln.strip() for ln in text.splitlines() if "error" in ln.lower()] or text.splitlines() or [""]
        raise StyleportError(f"TFLite conversion failed at {precision}: {lines[0]}") from None


def embed_metadata(data: bytes, metadata: dict) -> bytes:
    """Add ``metadata`` as JSON under the flatbuffer's Model.metadata entry ``styleport``.

    TFLite models carry named metadata buffers (the converter already writes
    ``min_runtime_version`` and ``CONVERSION_METADATA``); interpreters ignore unknown names, and
    ``styleport.runtimes.litert.read_metadata`` reads it back without TensorFlow.
    """
    import numpy as np

    tfgraph.import_tf("tflite")
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata, sort_keys=True).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != METADATA_NAME.encode()] + [entry]
    return flatbuffer_utils.convert_object_to_bytearray(model)


class TFLiteExporter(Exporter):
    name = "tflite"
    suffix = ".tflite"
    extra = "tflite"
    precisions = (Precision.FP32, Precision.FP16, Precision.INT8)
    default_precision = Precision.FP32
    runtime = "litert"
    description = "TFLite flatbuffer (LiteRT), dynamic H/W, NHWC float32 0..255"

    def check_available(self) -> None:
        tfgraph.import_tf(self.extra)

    def export(self, model: TransformerNet, checkpoint: Checkpoint, out: Path, request: ExportRequest) -> Artifact:
        self.validate(request)
        model, fp16_details = tfgraph.prepare(model, request)
        with tempfile.TemporaryDirectory(prefix="styleport-tf-") as tmp:
            saved = tfgraph.save_saved_model(
                model, Path(tmp) / "saved_model", extra=self.extra, subpixel=tfgraph.use_subpixel(request.precision)
            )
            data = convert(saved, request.precision)
        metadata = tfgraph.describe(checkpoint, self.name, request.precision)
        if request.precision is Precision.INT8:  # verification re-converts the checkpoint under this stamp
            metadata["int8_reconvert"] = reconvert_stamp()
        data = embed_metadata(data, metadata)
        with atomic_output(out) as tmp_out:
            tmp_out.write_bytes(data)
        details = {
            "io": tfgraph.io_contract(model.num_styles),
            "metadata": METADATA_NAME,
        }
        if request.precision is Precision.INT8:
            details["quantization"] = "dynamic-range int8 weights, activations quantized per inference"
            details["int8_reconvert"] = metadata["int8_reconvert"]
        details.update(fp16_details)
        return Artifact(self.name, request.precision, out, out.stat().st_size, details)


def reconvert_stamp() -> str:
    """The exporter code and the torch / TensorFlow versions an int8 file was converted with: under the same
    stamp the conversion is byte-for-byte repeatable (measured: two exports of great_wave are identical)."""
    from styleport.verification.provenance import reexport_stamp

    return reexport_stamp(("torch", "tensorflow", "tf-keras"))


def reconvert(model: TransformerNet, out: Path) -> Path:
    """``model`` converted to a dynamic-range int8 .tflite at ``out`` exactly as ``TFLiteExporter`` does
    (metadata aside, which no kernel reads): the reference of an int8 file's second condition, whose
    per-run activation quantization a numpy emulation reproduces only to ~45 dB (verification.emulate)."""
    with tempfile.TemporaryDirectory(prefix="styleport-tf-") as tmp:
        saved = tfgraph.save_saved_model(
            model, Path(tmp) / "saved_model", extra="tflite", subpixel=tfgraph.use_subpixel(Precision.INT8)
        )
        out.write_bytes(convert(saved, Precision.INT8))
    return out
