"""Stylizing without torch: the ``styleport stylize`` engine that skips PyTorch's start-up.

``import torch`` alone takes 1.3-2.2 s on 2-core machines, several times longer than the network
needs for a phone-sized photo (bench/startup.py), and ONNX Runtime's fp32 convolutions beat
torch's fp32 ones up to a few megapixels. For such work on the CPU (the choice:
``styleport.commands.light_choice``), stylize reads the checkpoint with a torch-free reader, writes
the network out as an ONNX graph (Johnson et al. 2016's layer sequence, weights as initializers)
and runs it in ONNX Runtime fp32. Everything around the network (resizing, colors, strength,
style mixing) is ``styleport.stylize_options``, shared with the torch path.

The reader accepts less than ``torch.load(weights_only=True)``: a zip written by ``torch.save``
whose pickle names only ``torch._utils._rebuild_tensor_v2``, storage types and OrderedDict,
holding a styleport checkpoint (format 1, arch johnson2016) or a pytorch/examples state_dict whose
tensors have exactly the names and chained shapes of the network, contiguous, little-endian,
fp16/fp32, all finite. Anything else raises :class:`NotLight` with the reason, and the caller uses
the torch path, which does the full checks and gives the error messages. tests/test_light.py holds
the output to the torch fp32 path and to the float64 reference (styleport.reference).
"""

from __future__ import annotations

import collections
import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from styleport import reference
from styleport.errors import StyleportError
from styleport.onnx_norm import two_stage_instance_norms
from styleport.precision import Precision
from styleport.stylize_options import MIN_SIDE, StylizeOptions, check_forward_memory, finish, prepare, style_mix
from styleport.subpixel_kernels import phase_kernels, space_to_depth_kernels

# Auto picks this path for one image up to AUTO_MAX_PIXELS on any CPU: there the torch import costs
# more than the whole forward pass. Up to AUTO_LARGE_MAX_PIXELS (and for folders of such images)
# only where the CPU has no native bf16: on a 2-core AVX2 EPYC, whole processes, ORT fp32 vs torch
# fp32: 1.78 vs 4.35 s at 1024x666, 4.95 vs 9.07 s at 1920x1249 (bench/startup.py --large 1024 /
# 1920), but 29.7 vs 26.2 s at 4000x2602 (`/usr/bin/time -f "%e s %M KB" styleport stylize
# starry_night.pth big4000.jpg -o out.png --engine X`, one run each). styleport.commands.light_choice.
AUTO_MAX_PIXELS = 1_000_000
AUTO_LARGE_MAX_PIXELS = 4_000_000
# ORT's peak memory over forward_bytes' torch estimate: 6.09 GB peak RSS (the same /usr/bin/time run)
# at 4000x2602 for a width-0.5 network whose estimate is 3.65 GB (torch measured 2.74 GB).
MEMORY_FACTOR = 1.7
EPS = 1e-5  # instance norm epsilon, as torch.nn.InstanceNorm2d
# as styleport.checkpoints._LEGACY_BUFFER (that module imports torch)
_LEGACY_BUFFER = re.compile(r"(^|\.)in\d+\.(running_mean|running_var|num_batches_tracked)$")
_STORAGES = {
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "DoubleStorage": np.float64,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class NotLight(StyleportError):
    """This file or request is not for the torch-free path; the message says why."""


class _Storage:
    def __init__(self, name: str) -> None:
        self.dtype = np.dtype(_STORAGES[name])


def _rebuild(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    size, stride = tuple(size), tuple(stride)
    expected = tuple(int(np.prod(size[i + 1 :])) for i in range(len(size)))
    if any(n > 1 and s != e for n, s, e in zip(size, stride, expected, strict=True)):
        raise NotLight("a non-contiguous tensor")
    count = int(np.prod(size))
    if offset + count > storage.size:
        raise NotLight("a tensor runs past its storage (truncated file?)")
    return storage[offset : offset + count].reshape(size)


class _Reader(pickle.Unpickler):
    def __init__(self, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(archive.open(f"{prefix}data.pkl"))
        self.archive, self.prefix = archive, prefix

    def find_class(self, module: str, name: str):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch" and name in _STORAGES:
            return _Storage(name)
        raise NotLight(f"the pickle names {module}.{name}")

    def persistent_load(self, pid):
        kind, storage, key, _location, _numel = pid
        if kind != "storage" or not isinstance(storage, _Storage):
            raise NotLight(f"an unknown persistent record {kind!r}")
        return np.frombuffer(self.archive.read(f"{self.prefix}data/{key}"), dtype=storage.dtype.newbyteorder("<"))


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """(float32 weights by pytorch/examples name, metadata) of a styleport checkpoint or a
    pytorch/examples state_dict, or NotLight."""
    try:
        with zipfile.ZipFile(path) as archive:
            pkl = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(pkl) != 1:
                raise NotLight("not a single-record torch zip")
            prefix = pkl[0][: -len("data.pkl")]
            if f"{prefix}byteorder" in archive.namelist() and archive.read(f"{prefix}byteorder") != b"little":
                raise NotLight("big-endian tensors")
            obj = _Reader(archive, prefix).load()
    except NotLight:
        raise
    except Exception as exc:  # zipfile/pickle raise many types on odd files; the torch path reports them
        raise NotLight(f"unreadable here ({type(exc).__name__})") from None
    if isinstance(obj, dict) and "conv1.conv2d.weight" in {k.removeprefix("module.") for k in obj}:
        # a pytorch/examples state_dict: DataParallel's "module." prefix and the 2017 norm buffers dropped
        state = {k.removeprefix("module."): v for k, v in obj.items() if not _LEGACY_BUFFER.search(k)}
        res_blocks = len({k.split(".")[0] for k in state if re.match(r"res\d+\.", k)})
        norm = state.get("in1.weight")
        config = {"res_blocks": res_blocks, "num_styles": norm.shape[0] if getattr(norm, "ndim", 1) == 2 else 1}
        obj = {"metadata": {}}
    elif isinstance(obj, dict) and obj.get("format") == "styleport" and obj.get("format_version") == 1:
        config, state = obj.get("config"), obj.get("state_dict")
        if not isinstance(config, dict) or config.get("arch") != "johnson2016" or not isinstance(state, dict):
            raise NotLight("an unknown architecture")
    else:
        raise NotLight("neither a styleport format 1 checkpoint nor a pytorch/examples state_dict")
    weights = {}
    for key, value in state.items():
        if not isinstance(value, np.ndarray) or value.dtype not in (np.float16, np.float32):
            raise NotLight(f"tensor {key} is not fp16/fp32")
        weights[key] = value.astype(np.float32)
        if not np.isfinite(weights[key]).all():
            raise NotLight(f"tensor {key} has non-finite values")
    check_shapes(weights, int(config.get("res_blocks", -1)), int(config.get("num_styles", -1)))
    metadata = obj.get("metadata")
    return weights, metadata if isinstance(metadata, dict) else {}


def _layers(res_blocks: int) -> list[tuple[str, str | None, int, int]]:
    """(conv, norm, kernel, stride) in order; residual convs as res{i}.conv1/conv2."""
    out = [("conv1", "in1", 9, 1), ("conv2", "in2", 3, 2), ("conv3", "in3", 3, 2)]
    for i in range(1, res_blocks + 1):
        out += [(f"res{i}.conv1", f"res{i}.in1", 3, 1), (f"res{i}.conv2", f"res{i}.in2", 3, 1)]
    return out + [("deconv1", "in4", 3, 1), ("deconv2", "in5", 3, 1), ("deconv3", None, 9, 1)]


def check_shapes(w: dict[str, np.ndarray], res_blocks: int, num_styles: int) -> None:
    """Exactly the tensors of the network, each conv feeding the next (else NotLight)."""
    if not 1 <= res_blocks <= 64 or not 1 <= num_styles <= 1024:
        raise NotLight("an unexpected config")
    expected, c_in = set(), 3
    for conv, norm, k, _ in _layers(res_blocks):
        weight, bias = w.get(f"{conv}.conv2d.weight"), w.get(f"{conv}.conv2d.bias")
        if weight is None or bias is None or weight.ndim != 4 or weight.shape[1:] != (c_in, k, k):
            raise NotLight(f"{conv}: unexpected shape")
        c_out = weight.shape[0]
        if bias.shape != (c_out,):
            raise NotLight(f"{conv}: unexpected bias shape")
        expected |= {f"{conv}.conv2d.weight", f"{conv}.conv2d.bias"}
        if norm is not None:
            shape = (c_out,) if num_styles == 1 else (num_styles, c_out)
            if any(w.get(f"{norm}.{p}", np.empty(0)).shape != shape for p in ("weight", "bias")):
                raise NotLight(f"{norm}: unexpected shape")
            expected |= {f"{norm}.weight", f"{norm}.bias"}
        c_in = c_out
    if c_in != 3 or set(w) != expected:
        raise NotLight("tensor names do not match the network")


def subpixel_kernels(weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(O,I,3,3), (O,) -> (4*O,I,2,2), (4*O,) for DepthToSpace CRD (styleport/subpixel.py says why it is exact)."""
    return phase_kernels(weight).astype(np.float32), np.repeat(bias.astype(np.float32), 4)


def build_graph(
    w: dict[str, np.ndarray], mix: np.ndarray | None, subpixel: bool = True, output_phases: bool = True
) -> bytes:
    """The network as a serialized ONNX model: image (1,3,H,W) 0..255 -> (1,3,4*ceil(H/4),4*ceil(W/4)).

    ``subpixel``: the two upsampling layers as replicate pad + 2x2 conv + DepthToSpace + crop (2.25x
    fewer FLOPs there, exact) instead of nearest Resize + reflect pad + 3x3 conv. ``output_phases``:
    the last 9x9 conv (C -> 3) as SpaceToDepth + 5x5 conv (4C -> 12) + DepthToSpace (exact; ~2x
    faster on ORT's CPU provider, whose blocked conv pads 3 output channels to 8). Instance norm
    statistics are means of row means (``styleport.onnx_norm``) in every form.
    """
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def upsampling_conv(x: str, conv: str) -> str:
        kernel, bias = subpixel_kernels(w[f"{conv}.conv2d.weight"], w[f"{conv}.conv2d.bias"])
        pads = const(f"{conv}.pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))
        x = node("Pad", [x, pads], f"{conv}.pad", mode="edge")  # (1,C,h,w) -> (1,C,h+2,w+2)
        x = node("Conv", [x, const(f"{conv}.w", kernel), const(f"{conv}.b", bias)], f"{conv}.conv")  # -> (1,4O,h+1,w+1)
        x = node("DepthToSpace", [x], f"{conv}.d2s", blocksize=2, mode="CRD")  # -> (1,O,2h+2,2w+2)
        crop = [const(f"{conv}.crop{i}", np.array(v, np.int64)) for i, v in enumerate(([1, 1], [-1, -1], [2, 3]))]
        return node("Slice", [x, *crop], f"{conv}.crop")  # -> (1,O,2h,2w)

    def plain_conv(x: str, conv: str, k: int, stride: int, phases: bool = False) -> str:
        p = k // 2  # reflection pad: (1,C,H,W) -> (1,C,H+2p,W+2p)
        x = node("Pad", [x, const(f"{conv}.pads", np.array([0, 0, p, p, 0, 0, p, p], np.int64))], f"{conv}.pad",
                 mode="reflect")  # fmt: skip
        if phases:  # H, W even here (4*ceil(./4) after two x2 upsamplings); subpixel_kernels says why exact
            x = node("SpaceToDepth", [x], f"{conv}.s2d", blocksize=2)  # -> (1,4C,H/2+p,W/2+p)
            kernel = space_to_depth_kernels(w[f"{conv}.conv2d.weight"]).astype(np.float32)
            bias = np.tile(w[f"{conv}.conv2d.bias"].astype(np.float32), 4)
            x = node(
                "Conv", [x, const(f"{conv}.w", kernel), const(f"{conv}.b", bias)], f"{conv}.conv"
            )  # -> (1,4O,H/2,W/2)
            return node("DepthToSpace", [x], f"{conv}.d2s", blocksize=2, mode="DCR")  # -> (1,O,H,W)
        weight, bias = const(f"{conv}.w", w[f"{conv}.conv2d.weight"]), const(f"{conv}.b", w[f"{conv}.conv2d.bias"])
        return node("Conv", [x, weight, bias], f"{conv}.conv", strides=[stride, stride])  # -> (1,O,H/s,W/s)

    def layer(x: str, conv: str, norm: str | None, k: int, stride: int, up: bool = False, relu: bool = True,
              phases: bool = False) -> str:  # fmt: skip
        if up and subpixel:
            x = upsampling_conv(x, conv)
        else:
            if up:  # nearest x2, as torch's F.interpolate(scale_factor=2): (1,C,H,W) -> (1,C,2H,2W)
                x = node("Resize", [x, "", "up_scales"], f"{conv}.up", mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor")  # fmt: skip
            x = plain_conv(x, conv, k, stride, phases)
        if norm is not None:
            gamma, beta = w[f"{norm}.weight"], w[f"{norm}.bias"]
            if gamma.ndim == 2:  # conditional instance norm: (S,) @ (S,C) -> (C,)
                gamma, beta = mix @ gamma, mix @ beta
            x = node("InstanceNormalization",
                     [x, const(f"{norm}.g", gamma.astype(np.float32)), const(f"{norm}.beta", beta.astype(np.float32))],
                     f"{norm}.norm", epsilon=EPS)  # fmt: skip
        return node("Relu", [x], f"{conv}.relu") if relu else x

    if not subpixel:
        const("up_scales", np.array([1, 1, 2, 2], np.float32))
    layers = _layers(sum(1 for k in w if re.fullmatch(r"res\d+\.conv1\.conv2d\.weight", k)))
    x = "image"
    for conv, norm, k, stride in layers[:3]:
        x = layer(x, conv, norm, k, stride)
    for a, b in zip(layers[3:-3:2], layers[4:-3:2], strict=True):  # residual blocks
        y = layer(layer(x, *a), *b, relu=False)
        x = node("Add", [x, y], f"{b[0]}.add")
    x = layer(x, *layers[-3], up=True)
    x = layer(x, *layers[-2], up=True)
    x = layer(x, *layers[-1], relu=False, phases=output_phases)
    graph = helper.make_graph(
        nodes,
        "styleport_light",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "H", "W"])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 3, None, None])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="styleport.light")
    two_stage_instance_norms(model)  # accurate statistics on large images (styleport/onnx_norm.py)
    return model.SerializeToString()


class LightStylizer:
    """``Stylizer``'s interface for the CLI, on ONNX Runtime's CPU provider in fp32."""

    device = "cpu"
    precision = Precision.FP32
    engine = "onnxruntime"

    def __init__(self, path: str | os.PathLike, threads: int | None = None, reason: str = "engine onnxruntime") -> None:
        try:
            import onnx  # noqa: F401 -- build_graph writes the graph with it
            import onnxruntime  # noqa: F401
        except ImportError:
            raise NotLight("onnxruntime is not installed (pip install 'styleport[onnx]')") from None
        self.path = Path(path)
        self.weights, self.metadata = read_checkpoint(path)
        self.threads = threads
        self.num_styles = reference.num_styles(self.weights)
        self.precision_reason = reason  # for --verbose: why this engine ran
        self._sessions: dict[tuple[float, ...] | None, object] = {}

    @property
    def style_names(self) -> list[str]:
        """As ``checkpoints.Checkpoint.style_names`` (which this torch-free module cannot import)."""
        if names := self.metadata.get("style_names"):
            return list(names)
        return [self.path.stem] if self.num_styles == 1 else [f"style{i}" for i in range(self.num_styles)]

    def _session(self, mix: np.ndarray | None):
        import onnxruntime as ort

        key = None if mix is None else tuple(mix.tolist())
        if key not in self._sessions:
            options = ort.SessionOptions()
            options.log_severity_level = 3
            if self.threads:
                options.intra_op_num_threads = self.threads
            graph = build_graph(self.weights, mix)
            self._sessions[key] = ort.InferenceSession(graph, sess_options=options, providers=["CPUExecutionProvider"])
        return self._sessions[key]

    def check_memory(self, width: int, height: int, tiled: bool = False, name: str = "image") -> None:
        """As ``Stylizer.check_memory``, with ORT's larger peak (MEMORY_FACTOR)."""
        if tiled:
            raise NotLight("--tile runs on the torch engine")
        c1, c2 = self.weights["conv1.conv2d.weight"].shape[0], self.weights["conv2.conv2d.weight"].shape[0]
        check_forward_memory(c1, c2, width, height, tiled, name, factor=MEMORY_FACTOR)

    def run_array(self, image: np.ndarray, mix: np.ndarray | None = None) -> np.ndarray:
        """(H,W,3) float32 0..255 -> (H,W,3) float32 0..255 (clamped, cropped)."""
        h, w = image.shape[:2]
        x = np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)  # (H,W,3) -> (1,3,H,W)
        if min(h, w) < MIN_SIDE:  # as Stylizer.run_tensor: grow by edge replication, crop after
            x = np.pad(x, ((0, 0), (0, 0), (0, max(0, MIN_SIDE - h)), (0, max(0, MIN_SIDE - w))), mode="edge")
        y = self._session(mix).run(None, {"image": x})[0]
        return np.clip(y[0, :, :h, :w].transpose(1, 2, 0), 0.0, 255.0)  # (1,3,H',W') -> (H,W,3)

    def stylize(self, image, options: StylizeOptions | None = None, **kwargs):
        """As ``Stylizer.stylize``: a PIL image or (H,W,3) uint8 array in, the same kind out."""
        options = options or StylizeOptions(**kwargs)
        if options.tile is not None:
            raise NotLight("--tile runs on the torch engine")
        original, is_array = prepare(image, options, self.check_memory)
        y = self.run_array(np.asarray(original, dtype=np.float32), style_mix(self.num_styles, options))
        out = finish(Image.fromarray(np.round(y).astype(np.uint8), "RGB"), original, options)
        return np.asarray(out) if is_array else out
