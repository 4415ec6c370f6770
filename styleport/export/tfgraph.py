"""PyTorch TransformerNet -> TensorFlow graph (NHWC), the common source of the TF.js and TFLite files.

The graph is built directly from the torch ``state_dict`` with plain ``tf.nn`` ops, one
``tf.name_scope`` per torch module (``conv1``, ``res3/in2``, ...). No ONNX detour: the model has
only reflection pads, convolutions, instance norms, ReLUs, additions and nearest x2 upsampling, so a
direct builder is ~100 lines, installs nothing beyond TensorFlow, runs offline and is reproducible.

Contract (same as ``TransformerNet.forward``, NHWC instead of NCHW)::

    image          float32 [1,H,W,3] RGB 0..255, H and W dynamic
    style_weights  float32 [1,S]                 (multi-style networks only)
    stylized       float32 [1,H,W,3] RGB clamped to 0..255, cropped to the input's H and W

Op choices that matter downstream: reflection pad = ``tf.pad(mode="REFLECT")`` (TFLite MIRROR_PAD,
TF.js MirrorPad); instance norm = mean and biased variance over H,W in two stages (rows, then columns: see ``norm``);
nearest x2 + reflect pad + 3x3 conv = the exact rewrite of ``styleport.subpixel``: SYMMETRIC pad 1
(= replicate), 2x2 conv with 4x the channels, ``tf.nn.depth_to_space`` (TFLite DEPTH_TO_SPACE, TF.js
DepthToSpace; channel order DCR), crop 1 -- 2.25x fewer FLOPs than resize + pad + 3x3 conv.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from styleport.checkpoints import Checkpoint
from styleport.errors import require
from styleport.export.base import ExportRequest
from styleport.model import ConvLayer, StyleInstanceNorm, TransformerNet
from styleport.precision import Precision

INPUT_NAME = "image"
STYLE_INPUT_NAME = "style_weights"
OUTPUT_NAME = "stylized"


def import_tf(extra: str = "tflite"):
    """Import TensorFlow lazily (quietly), or raise MissingDependencyError naming ``extra``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ info logs drown our output
    return require("tensorflow", extra, "building the TensorFlow graph for TF.js / TFLite export")


@dataclasses.dataclass(frozen=True)
class TFWeights:
    """The torch state_dict re-laid-out for TensorFlow (numpy float32)."""

    conv: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (kernel (kh,kw,I,O), bias (O,))
    # upsampling convs rewritten exactly (styleport.subpixel): name -> (kernel (2,2,I,4*O) DCR, bias (4*O,))
    subpixel: dict[str, tuple[np.ndarray, np.ndarray]]
    norm: dict[str, tuple[np.ndarray, np.ndarray, float]]  # name -> (gamma, beta, eps); gamma (C,) or (S,C)
    num_styles: int
    res_blocks: int


def tf_weights(model: TransformerNet, subpixel: bool = True) -> TFWeights:
    """Extract and transpose the weights of ``model`` (any device) into TF layouts.

    ``subpixel``: also derive the exact 2x2 rewrite of the upsampling convs (``styleport.subpixel``),
    which the graph then uses instead of resize + pad + 3x3.
    """
    from styleport.subpixel import UPSAMPLING, subpixel_bias, subpixel_weight

    conv, norm, sub = {}, {}, {}
    for name, module in model.named_modules():
        if isinstance(module, ConvLayer):
            weight = module.conv2d.weight.detach().float().cpu()
            # (O,I,kh,kw) torch -> (kh,kw,I,O) tf.nn.conv2d filter
            kernel = np.ascontiguousarray(weight.numpy().transpose(2, 3, 1, 0))
            bias = module.conv2d.bias.detach().float().cpu()
            conv[name] = (kernel, bias.numpy())
            if subpixel and name in UPSAMPLING:
                # (4*O,I,2,2) in TensorFlow's depth_to_space channel order (ONNX "DCR") -> (2,2,I,4*O)
                k2 = subpixel_weight(weight, order="DCR").numpy().transpose(2, 3, 1, 0)
                sub[name] = (np.ascontiguousarray(k2), subpixel_bias(bias, order="DCR").numpy())
        elif isinstance(module, StyleInstanceNorm):
            # eps is per module: the fp16 range fix rescales a conv by s and its norm's eps by s^2
            gamma, beta = (t.detach().float().cpu().numpy() for t in (module.weight, module.bias))
            norm[name] = (gamma, beta, float(module.eps))
    return TFWeights(conv, sub, norm, model.config.num_styles, model.config.res_blocks)


class _Builder:
    """Emits the network's ops; ``sw`` is the (1,S) style-weights tensor or None."""

    def __init__(self, tf, weights: TFWeights, sw):
        self.tf, self.w, self.sw = tf, weights, sw

    def conv(self, x, name: str, stride: int = 1, upsample: bool = False):
        tf = self.tf
        kernel, bias = self.w.conv[name]
        with tf.name_scope(name):
            if upsample and name in self.w.subpixel:
                return self.subpixel_conv(x, name)
            if upsample:
                size = tf.shape(x)[1:3] * 2
                # (1,h,w,C) -> (1,2h,2w,C), nearest: out[i] = in[i // 2] (half-pixel centres, exact for 2x)
                x = tf.image.resize(x, size, method="nearest")
            p = kernel.shape[0] // 2
            # (1,h,w,C) -> (1,h+2p,w+2p,C), reflect (edge pixel not repeated), as torch "reflect"
            x = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")
            x = tf.nn.conv2d(x, tf.constant(kernel, name="kernel"), strides=stride, padding="VALID")
            return tf.nn.bias_add(x, tf.constant(bias, name="bias"))

    def subpixel_conv(self, x, name: str):
        """nearest x2 + reflect pad 1 + conv 3x3, exactly, as 2x2 conv + depth_to_space (styleport.subpixel)."""
        tf = self.tf
        kernel, bias = self.w.subpixel[name]
        # (1,h,w,C) -> (1,h+2,w+2,C); SYMMETRIC by 1 repeats the edge: replicate padding
        x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
        x = tf.nn.conv2d(x, tf.constant(kernel, name="kernel"), strides=1, padding="VALID")  # -> (1,h+1,w+1,4*O)
        x = tf.nn.bias_add(x, tf.constant(bias, name="bias"))
        x = tf.nn.depth_to_space(x, 2)  # -> (1,2h+2,2w+2,O)
        return x[:, 1:-1, 1:-1, :]  # -> (1,2h,2w,O)

    def norm(self, x, name: str):
        tf = self.tf
        gamma, beta, eps = self.w.norm[name]
        with tf.name_scope(name):
            # Statistics in two stages, rows then columns: (1,h,w,C) -> (1,h,1,C) -> (1,1,1,C). One MEAN over
            # h*w sums millions of fp32 values at full resolution; TFLite's and TF.js's kernels accumulate
            # in fp32, and at 1080x1920 tf.nn.moments' single reduction put great_wave 60.7 dB (max abs 11)
            # from the float64 reference; two stages of <= 1920 values each: 120.3 dB (max abs 0.007).
            mean = tf.reduce_mean(tf.reduce_mean(x, axis=2, keepdims=True), axis=1, keepdims=True)
            var = tf.math.squared_difference(x, mean)  # biased variance, as torch's instance norm
            var = tf.reduce_mean(tf.reduce_mean(var, axis=2, keepdims=True), axis=1, keepdims=True)
            x = (x - mean) * tf.math.rsqrt(var + eps)
            if self.w.num_styles == 1:
                return x * tf.constant(gamma, name="gamma") + tf.constant(beta, name="beta")
            # (1,S) @ (S,C) -> (1,C) -> (1,1,1,C)
            g = tf.reshape(tf.matmul(self.sw, tf.constant(gamma, name="gamma")), [1, 1, 1, -1])
            b = tf.reshape(tf.matmul(self.sw, tf.constant(beta, name="beta")), [1, 1, 1, -1])
            return x * g + b

    def network(self, image):
        tf = self.tf
        relu = tf.nn.relu
        y = relu(self.norm(self.conv(image, "conv1"), "in1"))
        y = relu(self.norm(self.conv(y, "conv2", stride=2), "in2"))  # (1,H,W,c1) -> (1,ceil(H/2),ceil(W/2),c2)
        y = relu(self.norm(self.conv(y, "conv3", stride=2), "in3"))  # -> (1,ceil(H/4),ceil(W/4),c3)
        for i in range(1, self.w.res_blocks + 1):
            r = f"res{i}"
            with tf.name_scope(r):
                out = relu(self.norm(self.conv(y, f"{r}.conv1"), f"{r}.in1"))
                y = y + self.norm(self.conv(out, f"{r}.conv2"), f"{r}.in2")
        y = relu(self.norm(self.conv(y, "deconv1", upsample=True), "in4"))  # -> (1,2*ceil(H/4),...,c2)
        y = relu(self.norm(self.conv(y, "deconv2", upsample=True), "in5"))  # -> (1,4*ceil(H/4),...,c1)
        y = self.conv(y, "deconv3")  # -> (1,4*ceil(H/4),4*ceil(W/4),3)
        hw = tf.shape(image)[1:3]
        # (1,4*ceil(H/4),4*ceil(W/4),3) -> (1,H,W,3)
        y = y[:, : hw[0], : hw[1], :]
        return tf.clip_by_value(y, 0.0, 255.0)


def build_function(model: TransformerNet, extra: str = "tflite", subpixel: bool = True):
    """A ``tf.function`` with the module contract, traced once for dynamic H and W.

    Returns the polymorphic function; ``.get_concrete_function()`` gives the one graph.
    """
    tf = import_tf(extra)
    weights = tf_weights(model, subpixel)
    image_spec = tf.TensorSpec([1, None, None, 3], tf.float32, name=INPUT_NAME)
    if weights.num_styles == 1:

        @tf.function(input_signature=[image_spec], autograph=False)
        def stylize(image):
            return {OUTPUT_NAME: tf.identity(_Builder(tf, weights, None).network(image), name=OUTPUT_NAME)}

    else:
        sw_spec = tf.TensorSpec([1, weights.num_styles], tf.float32, name=STYLE_INPUT_NAME)

        @tf.function(input_signature=[image_spec, sw_spec], autograph=False)
        def stylize(image, style_weights):
            out = _Builder(tf, weights, style_weights).network(image)
            return {OUTPUT_NAME: tf.identity(out, name=OUTPUT_NAME)}

    return stylize


def save_saved_model(model: TransformerNet, directory: Path, extra: str = "tflite", subpixel: bool = True) -> Path:
    """Write a SavedModel with one ``serving_default`` signature (inputs/outputs named as above)."""
    tf = import_tf(extra)
    fn = build_function(model, extra, subpixel)
    holder = tf.Module()
    holder.stylize = fn
    tf.saved_model.save(holder, str(directory), signatures={"serving_default": fn.get_concrete_function()})
    return directory


def run(fn, image_nhwc: np.ndarray, style_weights: np.ndarray | None = None) -> np.ndarray:
    """Run a function from ``build_function`` eagerly: (1,H,W,3) -> (1,H,W,3) numpy float32."""
    args: list[Any] = [np.asarray(image_nhwc, np.float32)]
    if style_weights is not None:
        args.append(np.asarray(style_weights, np.float32).reshape(1, -1))  # (S,) -> (1,S)
    return fn(*args)[OUTPUT_NAME].numpy()


def io_contract(num_styles: int) -> dict[str, Any]:
    """The I/O description written into every TF.js / TFLite metadata file."""
    inputs = [
        {
            "name": INPUT_NAME,
            "dtype": "float32",
            "shape": [1, -1, -1, 3],
            "layout": "NHWC",
            "range": [0, 255],
            "color": "RGB",
        }
    ]
    if num_styles > 1:
        inputs.append({"name": STYLE_INPUT_NAME, "dtype": "float32", "shape": [1, num_styles], "meaning": "style mix"})
    output = {
        "name": OUTPUT_NAME,
        "dtype": "float32",
        "shape": [1, -1, -1, 3],
        "layout": "NHWC",
        "range": [0, 255],
        "color": "RGB",
        "note": "same height and width as the input; clamped to 0..255 inside the graph",
    }
    return {"inputs": inputs, "outputs": [output]}


def describe(checkpoint: Checkpoint, fmt: str, precision: Precision) -> dict[str, Any]:
    """Metadata written beside / into TF.js and TFLite artifacts: styles, license, I/O, precision."""
    from styleport import __version__

    meta = checkpoint.metadata
    return {
        "producer": f"styleport {__version__}",
        "format": fmt,
        "precision": str(precision),
        "architecture": checkpoint.config.to_dict(),
        "style_names": checkpoint.style_names,
        "styles": list(meta.get("styles", [])),
        "license": meta.get("license", ""),
        "description": meta.get("description", ""),
        "io": io_contract(checkpoint.config.num_styles),
    }


def use_subpixel(precision: Precision) -> bool:
    """Whether a TF.js / TFLite artifact gets the sub-pixel rewrite of the upsampling convs.

    Not for fp16: those files store fp16 *weights* and compute in fp32, so a checkpoint saved in
    fp16 converts exactly (the >= 90 dB "fp16-exact" row) -- but the rewrite's kernels are sums of
    up to four weights, which fp16 cannot hold exactly. Quantized files keep them too
    (``styleport.subpixel.rewrite_for``): only fp32 gets it.
    """
    return precision is Precision.FP32


def prepare(model: TransformerNet, request: ExportRequest) -> tuple[TransformerNet, dict[str, Any]]:
    """The network to convert for ``request`` and notes for the artifact's details.

    fp16 artifacts go through the shared fp16 range check (``styleport.export.fp16``): activations
    measured on the calibration photos, exact power-of-two rescaling if needed, or a refusal.
    """
    if request.precision is not Precision.FP16:
        return model, {}
    from styleport.export.fp16 import fp16_safe_model

    safe, report = fp16_safe_model(model, request.calibration_images)
    return safe, report.details()
