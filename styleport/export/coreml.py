"""CoreML exporter: the traced network through coremltools 9 to an ML Program ``.mlpackage``.

I/O (option ``io``):
- ``image`` (default): input ``image`` is an RGB image (an iOS/macOS app passes a CVPixelBuffer),
  scale 1 and no bias, because the network takes 0..255; output ``stylized`` is an RGB image.
- ``tensor``: float32 multi-arrays, NCHW (1,3,H,W) in and out, 0..255.
Multi-style networks add a float32 multi-array input ``style_weights`` (1,S).
The output is clamped to 0..255 and cropped to the input size inside the model (the torch
``forward`` does both; the crop converts to shape/gather/slice_by_index ops that follow the input).

Shapes (option ``shapes``):
- ``enumerated`` (default): the request's sizes, a default set (256x256, 512x512, 720x1280,
  1280x720, 1080x1920, 1920x1080) and the two small verification sizes (one not a multiple of 4),
  so the artifact is proven at sizes it accepts. **Neural Engine caveat**: CoreML runs a model on
  the ANE only when its input shapes are enumerated (or fixed); other sizes are rejected.
- ``range``: any H and W in [RANGE_MIN, RANGE_MAX]. Flexible, but CoreML then runs the model on
  the GPU or CPU only, never on the Neural Engine.

Precisions: fp16 (default; fp16 compute, the ANE's native type), fp32, int8 (per-channel
symmetric linear weight quantization of the convs), palette6 / palette4 (k-means palettized conv
weights, 64 / 16 entries per tensor; needs scikit-learn). The compressed ones compute in fp16 and
decompress their weights at load time. Every fp16-computing artifact first goes through the
shared fp16 range check (``styleport.export.fp16``).

Deployment target (option ``target``): ``auto`` = iOS15/macOS12 for fp32/fp16 (the first ML
Program release), iOS16/macOS13 for compressed weights (their constexpr ops start there).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from styleport.checkpoints import Checkpoint
from styleport.errors import StyleportError, UsageError, require
from styleport.export.base import Artifact, Exporter, ExportRequest, OptionSpec
from styleport.fileutil import atomic_output
from styleport.model import TransformerNet
from styleport.precision import Precision

DEFAULT_SHAPES: tuple[tuple[int, int], ...] = (
    (256, 256),
    (512, 512),
    (720, 1280),
    (1280, 720),
    (1080, 1920),
    (1920, 1080),
)
VERIFY_SHAPES: tuple[tuple[int, int], ...] = ((72, 96), (61, 83))  # (H, W): small, and 61x83 is not a multiple of 4
RANGE_MIN, RANGE_MAX = 16, 4096  # the net itself needs H, W >= 5 (the 9x9 reflection pad); 16 is a sane floor
TRACE_SIZE = (64, 64)  # tracing keeps the crop's sizes symbolic, so any traced size works
_PALETTE_BITS = {Precision.PALETTE6: 6, Precision.PALETTE4: 4}
_COMPRESSED = (Precision.INT8, Precision.PALETTE6, Precision.PALETTE4)


class _Wrapped(torch.nn.Module):
    """The network with a fixed positional signature for tracing (image[, style_weights])."""

    def __init__(self, model: TransformerNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(image, style_weights)  # (1,3,H,W) -> (1,3,H,W), clamped to 0..255


def _target(ct, request: ExportRequest, option: str):
    if option == "auto":
        return ct.target.iOS16 if request.precision in _COMPRESSED else ct.target.iOS15
    if option == "iOS15" and request.precision in _COMPRESSED:
        raise UsageError(f"coreml {request.precision} needs target iOS16 or newer (compressed-weight ops)")
    return getattr(ct.target, option)


def enumerated_shapes(request: ExportRequest) -> tuple[tuple[int, int], ...]:
    """The request's shapes first (the first is the model's default size), then defaults, then verification sizes."""
    shapes: list[tuple[int, int]] = []
    for shape in (*request.shapes, *DEFAULT_SHAPES, *VERIFY_SHAPES):
        if tuple(shape) not in shapes:
            shapes.append(tuple(shape))
    return tuple(shapes)


def _metadata(mlmodel, checkpoint: Checkpoint, request: ExportRequest, io: str, details: dict[str, Any]) -> None:
    from styleport import __version__

    meta = checkpoint.metadata
    licenses = sorted({s.get("license", "") for s in meta.get("styles", []) if s.get("license")})
    mlmodel.author = str(meta.get("author") or f"styleport {__version__}")
    mlmodel.license = str(meta.get("license") or "; ".join(licenses) or "see the model's source")
    mlmodel.short_description = str(
        meta.get("description") or f"Fast neural style transfer ({', '.join(checkpoint.style_names)})"
    )
    mlmodel.version = __version__
    kind = "RGB image" if io == "image" else "float32 tensor (1,3,H,W)"
    mlmodel.input_description["image"] = f"Content photo, {kind}, values 0..255"
    mlmodel.output_description["stylized"] = f"Stylized photo, {kind}, same size as the input, values 0..255"
    if checkpoint.config.num_styles > 1:
        mlmodel.input_description["style_weights"] = (
            f"(1,{checkpoint.config.num_styles}) float32 mix of the styles {checkpoint.style_names}, e.g. one-hot"
        )
    user = mlmodel.user_defined_metadata
    user["styleport.version"] = __version__
    user["styleport.style_names"] = json.dumps(checkpoint.style_names)
    user["styleport.precision"] = str(request.precision)
    user["styleport.architecture"] = json.dumps(checkpoint.config.to_dict(), sort_keys=True)
    user["styleport.io"] = json.dumps(details["io"], sort_keys=True)
    user["styleport.shapes"] = json.dumps(details["shapes"])


class CoreMLExporter(Exporter):
    name = "coreml"
    suffix = ".mlpackage"
    extra = "coreml"
    precisions = (Precision.FP16, Precision.FP32, Precision.INT8, Precision.PALETTE6, Precision.PALETTE4)
    default_precision = Precision.FP16
    runtime = "coreml"
    description = "CoreML ML Program (.mlpackage): RGB image in/out or float tensors, enumerated or ranged sizes"
    options = {
        "io": OptionSpec(
            "image: RGB image in and out (CVPixelBuffer); tensor: float32 NCHW arrays", "image", ("image", "tensor")
        ),
        "shapes": OptionSpec(
            "enumerated: listed sizes only (Neural Engine capable); range: any size 16..4096 (GPU/CPU only)",
            "enumerated",
            ("enumerated", "range"),
        ),
        "target": OptionSpec(
            "minimum deployment target; auto = iOS15 for fp32/fp16, iOS16 for int8/palettized",
            "auto",
            ("auto", "iOS15", "iOS16", "iOS17", "iOS18"),
        ),
    }

    def check_available(self) -> None:
        require("coremltools", self.extra, "CoreML export")

    def validate(self, request: ExportRequest) -> None:
        super().validate(request)
        for h, w in request.shapes:
            if not (RANGE_MIN <= h <= RANGE_MAX and RANGE_MIN <= w <= RANGE_MAX):
                raise UsageError(f"coreml shape {h}x{w}: each side must be in [{RANGE_MIN}, {RANGE_MAX}]")
        if self.option(request, "target") == "iOS15" and request.precision in _COMPRESSED:
            raise UsageError(f"coreml {request.precision} needs target iOS16 or newer (compressed-weight ops)")

    def export(self, model: TransformerNet, checkpoint: Checkpoint, out: Path, request: ExportRequest) -> Artifact:
        self.validate(request)
        ct = require("coremltools", self.extra, "CoreML export")
        if request.precision in _PALETTE_BITS:
            require("sklearn", self.extra, "k-means palettization of CoreML weights")
        io, shape_mode = self.option(request, "io"), self.option(request, "shapes")
        details: dict[str, Any] = {}
        if request.precision is not Precision.FP32:  # every other precision computes in fp16
            from styleport.export.fp16 import fp16_safe_model

            model, report = fp16_safe_model(model, request.calibration_images)
            details.update(report.details())
        mlmodel = self._convert(ct, model, request, io, shape_mode, details)
        mlmodel = self._compress(mlmodel, request, details)
        _metadata(mlmodel, checkpoint, request, io, details)
        with atomic_output(out) as tmp:
            mlmodel.save(str(tmp))
        size = sum(f.stat().st_size for f in Path(out).rglob("*") if f.is_file())
        return Artifact(self.name, request.precision, Path(out), size, details)

    def _convert(self, ct, model: TransformerNet, request: ExportRequest, io: str, shape_mode: str, details: dict):
        from styleport.subpixel import fuse, rewrite_for

        if rewrite_for(request.precision):  # not for weight-quantized programs (see rewrite_for)
            model = fuse(model)  # exact: upsampling convs as 2x2 convs + pixel_shuffle, 2.25x fewer FLOPs
        styles = model.num_styles
        example = torch.rand(1, 3, *TRACE_SIZE) * 255.0
        args: tuple[torch.Tensor, ...] = (example,)
        if styles > 1:
            args = (example, model.default_style_weights(0))
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings (style-weight checks) and the jit.trace deprecation
            traced = torch.jit.trace(_Wrapped(model.eval()), args, check_trace=False)
        if shape_mode == "range":
            h = ct.RangeDim(lower_bound=RANGE_MIN, upper_bound=RANGE_MAX, default=256)
            w = ct.RangeDim(lower_bound=RANGE_MIN, upper_bound=RANGE_MAX, default=256)
            shape: Any = ct.Shape(shape=(1, 3, h, w))
            details["shapes"] = f"range {RANGE_MIN}..{RANGE_MAX} (GPU/CPU; not the Neural Engine)"
        else:
            sizes = enumerated_shapes(request)
            shape = ct.EnumeratedShapes(shapes=[(1, 3, h, w) for h, w in sizes], default=(1, 3, *sizes[0]))
            details["shapes"] = [f"{h}x{w}" for h, w in sizes]
            details["verify_sizes"] = [list(s) for s in VERIFY_SHAPES]  # sizes this artifact accepts
        if io == "image":
            inputs = [ct.ImageType(name="image", shape=shape, color_layout=ct.colorlayout.RGB, scale=1.0)]
            outputs = [ct.ImageType(name="stylized", color_layout=ct.colorlayout.RGB)]
        else:
            inputs = [ct.TensorType(name="image", shape=shape, dtype=np.float32)]
            outputs = [ct.TensorType(name="stylized", dtype=np.float32)]
        if styles > 1:
            inputs.append(ct.TensorType(name="style_weights", shape=(1, styles), dtype=np.float32))
        details["io"] = {
            "image": "RGB image 0..255" if io == "image" else "float32 (1,3,H,W) 0..255",
            "stylized": "RGB image 0..255" if io == "image" else "float32 (1,3,H,W) 0..255",
            **({"style_weights": f"float32 (1,{styles})"} if styles > 1 else {}),
        }
        precision = ct.precision.FLOAT32 if request.precision is Precision.FP32 else ct.precision.FLOAT16
        target = _target(ct, request, self.option(request, "target"))
        details["deployment_target"] = target.name
        logging.getLogger("coremltools").setLevel(logging.ERROR)
        try:
            with _quiet_progress():
                return ct.convert(
                    traced,
                    inputs=inputs,
                    outputs=outputs,
                    convert_to="mlprogram",
                    minimum_deployment_target=target,
                    compute_precision=precision,
                )
        except Exception as exc:  # coremltools raises plain ValueError/RuntimeError/NotImplementedError
            text = str(exc).strip().splitlines()
            raise StyleportError(
                f"CoreML conversion failed at {request.precision}: {text[0] if text else type(exc).__name__}"
            ) from None

    @staticmethod
    def _compress(mlmodel, request: ExportRequest, details: dict):
        if request.precision not in _COMPRESSED:
            return mlmodel
        cto = require("coremltools.optimize.coreml", "coreml", "CoreML weight compression")
        if request.precision is Precision.INT8:
            op_config = cto.OpLinearQuantizerConfig(
                mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=0
            )
            details["quantization"] = "int8 weights, symmetric per output channel (convs); fp16 compute"
            compress = cto.linear_quantize_weights
        else:
            bits = _PALETTE_BITS[request.precision]
            op_config = cto.OpPalettizerConfig(mode="kmeans", nbits=bits, granularity="per_tensor", weight_threshold=0)
            details["quantization"] = (
                f"{bits}-bit k-means palettized conv weights ({2**bits} entries per tensor); fp16 compute"
            )
            compress = cto.palettize_weights
        config = cto.OptimizationConfig(op_type_configs={"conv": op_config})
        with warnings.catch_warnings(), _quiet_progress():
            warnings.simplefilter("ignore")
            return compress(mlmodel, config)


@contextlib.contextmanager
def _quiet_progress():
    """Swallow coremltools' tqdm progress bars (written to sys.stderr); errors still raise."""
    with contextlib.redirect_stderr(io.StringIO()):
        yield
