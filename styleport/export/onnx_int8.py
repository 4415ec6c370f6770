"""Static int8 (QDQ) quantization of the ONNX graph, scheme chosen by measured quality.

A static QDQ scheme is three choices: 8- or 16-bit activations (weights are always int8),
per-tensor or per-channel weight scales, and whether the first and last convs (the layers that
see raw pixels and produce them) stay float. Which combination works depends on the network, so
``auto`` quantizes with every candidate, calibrated on the calibration photos, measures each
against the torch fp32 output on those photos at a different size, and keeps the cheapest scheme
within ``TOLERANCE_DB`` of the best PSNR. Every candidate's PSNR is recorded in the Artifact.

Speed (bench/int8_speed.py, docs/performance.md "int8 speed"): only 8-bit activations run as
integer convs in ONNX Runtime's CPU provider (DQ -> Conv -> Q fuses into QLinearConv, u8s8, VNNI);
16-bit QDQ runs float convs between Q/DQ pairs, slower than the fp32 file. The named scheme
``a8w8-pc-enc`` (not an ``auto`` candidate: ``auto`` optimizes quality) keeps float the convs whose
8-bit activations cost the most PSNR and the 9x9 output conv (``FLOAT_ENCODER``), and runs the rest
as QLinearConv: the fast int8 file.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np

from styleport.errors import StyleportError, require
from styleport.export.base import ExportRequest
from styleport.export.calibration import calibration_set
from styleport.metrics import psnr
from styleport.model import TransformerNet

CALIBRATION_SIZE = (
    384,
    384,
)  # held-out photos at 256 px: 128 px ranges clipped (cafe_terrace 46.4 dB, max abs 40; 384 px: 52.5 dB, 27)
EVAL_SIZE = (96, 120)
TOLERANCE_DB = 0.5  # prefer a cheaper scheme when it is this close to the best
# "-enc" keeps these convs float. great_wave at 256 px, all other convs a8w8-pc, one conv kept float at a
# time: conv1 +1.9 dB, conv2 +0.7, conv3 +0.5, res1.conv1 +0.4, every other conv <= 0.1. deconv3 (9x9, 3
# outputs) is where QLinearConv is slowest (a full im2col, 81 x C_in bytes per output pixel: 154 of 259 ms
# of int8 conv time at 512 px, vs 71 ms as an fp32 NCHWc conv).
FLOAT_ENCODER = ("conv1", "conv2", "conv3", "res1.conv1", "deconv3")


@dataclasses.dataclass(frozen=True)
class Scheme:
    activations16: bool
    per_channel: bool
    skip_ends: bool  # keep the first and last conv in float
    float_encoder: bool = False  # keep the FLOAT_ENCODER convs in float

    @property
    def name(self) -> str:
        return (
            f"a{16 if self.activations16 else 8}w8"
            + ("-pc" if self.per_channel else "")
            + ("-skip" if self.skip_ends else "")
            + ("-enc" if self.float_encoder else "")
        )

    @property
    def cost(self) -> tuple[bool, bool, bool]:
        return (self.activations16, self.skip_ends, self.per_channel)  # 16-bit activations cost the most

    @classmethod
    def parse(cls, name: str) -> Scheme:
        for s in NAMED_SCHEMES:
            if s.name == name:
                return s
        raise StyleportError(f"unknown int8 scheme '{name}'")


ALL_SCHEMES = tuple(Scheme(a, p, s) for a in (False, True) for s in (False, True) for p in (False, True))  # auto
NAMED_SCHEMES = (*ALL_SCHEMES, Scheme(False, True, False, float_encoder=True))  # a8w8-pc-enc: by name only


class _Reader:
    """onnxruntime CalibrationDataReader over (1,3,H,W) images."""

    def __init__(self, images: list[np.ndarray], style_weights: list[np.ndarray | None]) -> None:
        feeds = []
        for img in images:
            x = np.ascontiguousarray(img.transpose(2, 0, 1)[None])  # (H,W,3) -> (1,3,H,W)
            for sw in style_weights:
                feeds.append({"image": x} if sw is None else {"image": x, "style_weights": sw[None]})
        self._it = iter(feeds)

    def get_next(self):
        return next(self._it, None)


def _styles(num_styles: int) -> list[np.ndarray | None]:
    return list(np.eye(num_styles, dtype=np.float32)) if num_styles > 1 else [None]


def _conv_ends(proto) -> list[str]:
    convs = [n.name for n in proto.graph.node if n.op_type == "Conv"]
    return [convs[0], convs[-1]] if len(convs) >= 2 else convs


def _float_convs(proto, scheme: Scheme, ends: list[str]) -> list[str] | None:
    """Names of the Conv nodes ``scheme`` keeps float (convs are named by their weight, ``<layer>.conv2d.weight``)."""
    if scheme.float_encoder:
        keep = {f"{layer}.conv2d.weight" for layer in FLOAT_ENCODER}
        return [n.name for n in proto.graph.node if n.op_type == "Conv" and n.input[1] in keep]
    return ends if scheme.skip_ends else None


def _quantize_one(
    pre_path: Path, out_path: Path, scheme: Scheme, reader: _Reader, exclude: list[str] | None, grids=None
) -> None:
    q = require("onnxruntime.quantization", "onnx", "int8 quantization")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs through the root logger (opset upgrade notices)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _static(q, pre_path, out_path, scheme, reader, exclude, grids)
    finally:
        root.setLevel(level)


def _static(
    q, pre_path: Path, out_path: Path, scheme: Scheme, reader: _Reader, exclude: list[str] | None, grids
) -> None:
    extra = {"ActivationSymmetric": False, "WeightSymmetric": True}
    if grids:  # (tensor -> [{"scale", "zero_point"}]): these grids, not the calibrated ranges
        extra["TensorQuantOverrides"] = grids
    q.quantize_static(
        str(pre_path),
        str(out_path),
        reader,
        quant_format=q.QuantFormat.QDQ,
        per_channel=scheme.per_channel,
        activation_type=q.QuantType.QUInt16 if scheme.activations16 else q.QuantType.QUInt8,
        weight_type=q.QuantType.QInt8,
        op_types_to_quantize=["Conv"],  # instance norm, pad, resize stay float between QDQ pairs
        nodes_to_exclude=exclude,
        calibrate_method=q.CalibrationMethod.MinMax,
        extra_options=extra,
    )


def _score(path: Path, images: list[np.ndarray], refs: list[np.ndarray], styles) -> float:
    ort = require("onnxruntime", "onnx", "int8 quantization")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    scores = []
    refs_it = iter(refs)
    for feed in _Reader(images, styles)._it:
        out = sess.run(None, feed)[0][0].transpose(1, 2, 0)  # (1,3,H,W) -> (H,W,3)
        scores.append(psnr(next(refs_it), out))
    return float(np.mean(scores))


def quantize(fp32_proto, model: TransformerNet, request: ExportRequest, scheme_name: str = "auto"):
    """(int8 ModelProto, details) for ``fp32_proto``; ``scheme_name`` "auto" or a Scheme name."""
    onnx = require("onnx", "onnx", "int8 quantization")
    from styleport.export.verify import reference_outputs

    photos = list(request.calibration_images)
    cal = calibration_set(photos, CALIBRATION_SIZE, count=8)
    evals = calibration_set(photos, EVAL_SIZE, count=4, seed=99)
    styles = _styles(model.num_styles)
    refs = reference_outputs(model, evals, styles)
    candidates = ALL_SCHEMES if scheme_name == "auto" else (Scheme.parse(scheme_name),)
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pre, pre_proto = _pre_process(fp32_proto, tmp)
        ends = _conv_ends(pre_proto)
        for scheme in candidates:
            out = tmp / f"{scheme.name}.onnx"
            try:
                _quantize_one(pre, out, scheme, _Reader(cal, styles), _float_convs(pre_proto, scheme, ends))
            except Exception as exc:  # a scheme ORT cannot produce is recorded, not fatal
                results[scheme.name] = float("nan")
                if len(candidates) == 1:
                    raise StyleportError(f"onnx int8 ({scheme.name}) quantization failed: {exc}") from exc
                continue
            results[scheme.name] = _score(out, evals, refs, styles)
        scored = [s for s in candidates if np.isfinite(results[s.name]) or results[s.name] == float("inf")]
        if not scored:
            raise StyleportError(f"onnx int8: every quantization scheme failed ({results})")
        best = max(results[s.name] for s in scored)
        chosen = min((s for s in scored if results[s.name] >= best - TOLERANCE_DB), key=lambda s: s.cost)
        proto = onnx.load(str(tmp / f"{chosen.name}.onnx"))
    used = {n.domain for n in proto.graph.node} | {""}
    kept = [o for o in proto.opset_import if o.domain in used]  # pre-processing declares ~8 unused domains
    del proto.opset_import[:]
    proto.opset_import.extend(kept)
    details = {
        "int8_scheme": chosen.name,
        "int8_psnr_db": round(results[chosen.name], 2),
        "int8_candidates_psnr_db": {k: round(v, 2) for k, v in results.items()},
        "int8_calibration": f"{len(cal)} {'photos' if photos else 'synthetic images'} at {CALIBRATION_SIZE[0]}x{CALIBRATION_SIZE[1]}",
        "int8_selection": f"cheapest within {TOLERANCE_DB} dB of the best mean PSNR vs torch at {EVAL_SIZE[0]}x{EVAL_SIZE[1]}",
    }
    if not chosen.activations16:
        details["int8_requantize"] = requantize_stamp()
    return proto, details


def _pre_process(fp32_proto, tmp: Path):
    """ORT's quantization pre-processing (shape inference) of ``fp32_proto`` in ``tmp``: (path, ModelProto)."""
    onnx = require("onnx", "onnx", "int8 quantization")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    raw, pre = tmp / "fp32.onnx", tmp / "pre.onnx"
    onnx.save(fp32_proto, str(raw))
    shape_log = logging.getLogger("onnxruntime.tools.symbolic_shape_infer")
    level = shape_log.level
    shape_log.setLevel(logging.ERROR)  # "Unable to determine if height <= ..." for every dynamic dim
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quant_pre_process(str(raw), str(pre), skip_symbolic_shape=False)
    finally:
        shape_log.setLevel(level)
    return pre, onnx.load(str(pre))


def requantize_stamp() -> str:
    """What a re-quantization depends on besides the checkpoint and the file's activation grids: the code
    that writes the float graph and the versions of the exporter, simplifier and quantizer. An 8-bit
    activation file is re-quantizable (``requantize``) only by the same stamp."""
    from styleport.verification.provenance import reexport_stamp

    return reexport_stamp(("torch", "onnx", "onnxsim", "onnxruntime"))


def requantize(model: TransformerNet, scheme_name: str, overrides) -> object:
    """The QDQ ModelProto that ``quantize`` writes for ``model`` with ``scheme_name``, its activation grids
    taken from ``overrides`` ((tensor, scale, zero_point) triples: a file's calibration results) instead
    of a calibration run. Same graph, same weights rounding, same grids: for the right checkpoint, ONNX
    Runtime computes the same output as from the file, bit for bit (styleport.verification.emulate says why
    8-bit activation files need this). Raises StyleportError when the file's activation tensors are not
    the ones this export quantizes (a file from another network or exporter)."""
    from styleport.export.onnx import torch_to_onnx

    onnx = require("onnx", "onnx", "int8 quantization")
    scheme = Scheme.parse(scheme_name)
    grids = {
        name: [{"scale": np.asarray(scale, np.float32), "zero_point": np.asarray(zp)}] for name, scale, zp in overrides
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pre, pre_proto = _pre_process(torch_to_onnx(model, subpixel=False), tmp)
        out = tmp / "requantized.onnx"
        reader = _Reader([np.zeros((16, 16, 3), np.float32)], _styles(model.num_styles))  # ranges: overridden
        exclude = _float_convs(pre_proto, scheme, _conv_ends(pre_proto))
        try:
            _quantize_one(pre, out, scheme, reader, exclude, grids)
        except Exception as exc:  # the quantizer refuses a grid for a tensor this graph does not have
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StyleportError(
                f"the file's {len(grids)} activation grids are not the ones this network's int8 export quantizes ({first})"
            ) from None
        proto = onnx.load(str(out))
    quantized = {n.input[0] for n in proto.graph.node if n.op_type == "QuantizeLinear"} - {
        t.name for t in proto.graph.initializer
    }
    if quantized != set(grids):
        raise StyleportError(
            f"the file's {len(grids)} activation grids are not the ones this network's int8 export quantizes"
            f" ({len(quantized)}; another network or exporter): {sorted(set(grids) ^ quantized)[:3]}"
        )
    return proto
