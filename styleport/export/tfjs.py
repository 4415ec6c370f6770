"""TF.js exporter: a graph model folder (``model.json`` + weight shards + ``styleport.json``).

Route: ``tfgraph`` builds the TensorFlow graph from the torch weights and saves a SavedModel in a
temp directory; the real ``tensorflowjs`` converter (its Python API, the same code as the
``tensorflowjs_converter`` command) freezes and converts it. Weight precisions:

- fp32: weights as stored;
- fp16: ``quantization_dtype_map={"float16": True}`` (weights stored as float16, half the size);
- uint8: ``{"uint8": True}`` (per-tensor affine uint8 weights, a quarter of the size).

In every case TF.js dequantizes the weights to float32 when loading and computes in float32, so
only the weights are rounded. The folder also holds ``styleport.json`` (style names, license, I/O
contract, precision), which is copied into ``model.json``'s ``userDefinedMetadata`` as well.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from styleport.checkpoints import Checkpoint
from styleport.errors import StyleportError, UsageError, require
from styleport.export import tfgraph
from styleport.export.base import Artifact, Exporter, ExportRequest, OptionSpec
from styleport.fileutil import atomic_output
from styleport.model import TransformerNet
from styleport.precision import Precision

METADATA_FILE = "styleport.json"


def _tfjs():
    # tensorflowjs imports tensorflow_decision_forests, whose welcome banner imports IPython whenever
    # sys.stdout is not the real fd 1/2 (pytest capture, notebooks, wrapped streams): switch it off.
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
    return require("tensorflowjs", "tfjs", "TF.js export")


QUANTIZATION = {Precision.FP32: None, Precision.FP16: {"float16": True}, Precision.UINT8: {"uint8": True}}


def convert(saved_model: Path, out_dir: Path, precision: Precision, metadata: dict, shard_mb: int) -> None:
    """SavedModel -> TF.js graph model in ``out_dir`` (created by the converter)."""
    _tfjs()
    from tensorflowjs.converters.tf_saved_model_conversion_v2 import convert_tf_saved_model

    try:
        convert_tf_saved_model(
            str(saved_model),
            str(out_dir),
            signature_def="serving_default",
            saved_model_tags="serve",
            quantization_dtype_map=QUANTIZATION[precision],
            weight_shard_size_bytes=shard_mb * 1024 * 1024,
            metadata={"styleport": metadata},
        )
    except ValueError as exc:  # unsupported ops are reported as ValueError("Unsupported Ops ...: X")
        text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or "ValueError"
        raise StyleportError(f"TF.js conversion failed at {precision}: {text}") from None  # names the ops
    if not (out_dir / "model.json").is_file():
        raise StyleportError(f"TF.js conversion at {precision} wrote no model.json into {out_dir}")


class TFJSExporter(Exporter):
    name = "tfjs"
    suffix = "_tfjs"
    extra = "tfjs"
    precisions = (Precision.FP32, Precision.FP16, Precision.UINT8)
    default_precision = Precision.FP32
    runtime = "tfjs-node"
    description = "TF.js graph model folder (model.json + shards), NHWC float32 0..255, dynamic H/W"
    options = {
        "shard_mb": OptionSpec("weight shard size in MB (browsers cache files up to a size)", "4"),
    }

    def validate(self, request: ExportRequest) -> None:
        super().validate(request)
        shard = self.option(request, "shard_mb")
        if not shard.isdigit() or not 1 <= int(shard) <= 1024:
            raise UsageError(f"tfjs option shard_mb={shard}: expected a whole number of MB in 1..1024")

    def check_available(self) -> None:
        tfgraph.import_tf(self.extra)
        _tfjs()

    def export(self, model: TransformerNet, checkpoint: Checkpoint, out: Path, request: ExportRequest) -> Artifact:
        self.validate(request)
        model, fp16_details = tfgraph.prepare(model, request)
        metadata = tfgraph.describe(checkpoint, self.name, request.precision)
        with atomic_output(out) as folder, tempfile.TemporaryDirectory(prefix="styleport-tf-") as tmp:
            saved = tfgraph.save_saved_model(
                model, Path(tmp) / "saved_model", extra=self.extra, subpixel=tfgraph.use_subpixel(request.precision)
            )
            convert(saved, folder, request.precision, metadata, int(self.option(request, "shard_mb")))
            (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        details = {"files": sorted(os.listdir(out)), "io": tfgraph.io_contract(model.num_styles)}
        if request.precision is not Precision.FP32:
            details["quantization"] = f"{request.precision} weights, dequantized to float32 at load"
        details.update(fp16_details)
        return Artifact(self.name, request.precision, out, size, details)
