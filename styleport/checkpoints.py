"""Checkpoint files: one ``.pth`` holding format version, architecture config, weights, metadata.

Layout (a plain dict, loadable with ``torch.load(weights_only=True)``)::

    {"format": "styleport", "format_version": 1,
     "config": ModelConfig.to_dict(),
     "state_dict": {name: tensor},           # keys as pytorch/examples' TransformerNet
     "metadata": {"style_names": [...], "styles": [{"name", "source", "license"}],
                  "training": {...}, "description": ...},
     "training_state": {...}}                 # optional: optimizer/scaler/RNG/step for --resume

Also accepted: a bare pytorch/examples state_dict (with or without the 2017 ``in*.running_mean``
/ ``running_var`` buffers, with or without DataParallel's ``module.`` prefix). The width is
inferred from ``conv1.conv2d.weight``, the style count from the norm weights' shape.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from styleport.errors import CheckpointError
from styleport.fileutil import atomic_write_bytes
from styleport.model import BASE_CHANNELS, ModelConfig, TransformerNet

FORMAT = "styleport"
FORMAT_VERSION = 1
_LEGACY_BUFFER = re.compile(r"(^|\.)in\d+\.(running_mean|running_var|num_batches_tracked)$")


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A loaded model file: the network plus what the file said about it."""

    path: Path
    config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, Any]
    training_state: dict[str, Any] | None = None
    source_format: str = FORMAT  # "styleport" or "pytorch-examples"

    @property
    def style_names(self) -> list[str]:
        names = self.metadata.get("style_names")
        if names:
            return list(names)
        return [self.path.stem] if self.config.num_styles == 1 else [f"style{i}" for i in range(self.config.num_styles)]

    def build(self, device: str | torch.device = "cpu") -> TransformerNet:
        """A TransformerNet in eval mode (fp32) holding these weights."""
        model = TransformerNet(self.config)
        state = {k: v.float() for k, v in self.state_dict.items()}
        model.load_state_dict(state, strict=True)
        return model.to(device).eval()


# File endings of exported artifacts (see styleport/export/*.py): such a file is not a checkpoint.
_EXPORTED = {".onnx": "ONNX", ".ort": "ORT", ".tflite": "TFLite", ".mlpackage": "CoreML", "_tfjs": "TF.js"}


def _read(path: Path) -> Any:
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    exported = next((fmt for end, fmt in _EXPORTED.items() if path.name.lower().endswith(end)), None)
    if exported:
        raise CheckpointError(
            f"{path}: an exported {exported} model, not a styleport checkpoint; pass the .pth it was exported from"
        )
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a model file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror})") from None
    # torch.save writes a zip archive (PK..) or, before torch 1.6, a pickle (protocol byte 0x80)
    if not (head.startswith(b"PK") or head[:1] == b"\x80"):
        raise CheckpointError(f"{path}: not a checkpoint (not a PyTorch file)")
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4 ..." before the refusal below
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe pickle"
        if "Unsupported global" in str(exc) or "GLOBAL" in str(exc):
            raise CheckpointError(
                f"{path}: refusing to load: the file needs unsafe unpickling (arbitrary code); "
                "styleport only loads plain tensors and dicts"
            ) from None
        raise CheckpointError(f"{path}: not a checkpoint (corrupt PyTorch data: {_short(str(exc), first)})") from None
    except Exception as exc:  # torch.load raises many types for garbage input (KeyError, struct.error, ...)
        text = (str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)[:120]
        if "central directory" in text or "failed finding" in text or isinstance(exc, EOFError):
            raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({text})") from None
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({text})") from None


def _short(text: str, fallback: str) -> str:
    """The telling line of torch's long weights_only message (e.g. 'Unsupported operand 105')."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return next((ln for ln in lines if ln.startswith("Unsupported")), fallback)[:120]


def _infer_config(state: dict[str, torch.Tensor], path: Path) -> ModelConfig:
    key = "conv1.conv2d.weight"
    if key not in state:
        raise CheckpointError(f"{path}: not a style network: missing key '{key}'")
    if state[key].dim() != 4:
        raise CheckpointError(f"{path}: tensor '{key}' has shape {tuple(state[key].shape)}, expected 4 dimensions")
    c1 = state[key].shape[0]
    width = c1 / BASE_CHANNELS[0]
    blocks = len({k.split(".")[0] for k in state if re.match(r"res\d+\.", k)})
    norm = state.get("in1.weight")
    styles = 1 if norm is None or norm.dim() != 2 else norm.shape[0]
    try:
        return ModelConfig(width=width, num_styles=styles, res_blocks=max(blocks, 1))
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def _check_keys(state: dict[str, torch.Tensor], config: ModelConfig, path: Path) -> None:
    """Every key, tensor type, dtype and shape against the config, before anything is allocated."""
    bad = next((k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        raise CheckpointError(f"{path}: state_dict entry {str(bad)[:60]!r} is not a tensor")
    bad = next((k for k, v in state.items() if not (v.is_floating_point() and v.device.type == "cpu")), None)
    if bad is not None:
        raise CheckpointError(f"{path}: tensor '{bad[:60]}' is {state[bad].dtype}, expected floating point weights")
    with torch.device("meta"):  # shapes only: no memory for the expected network
        expected = TransformerNet(config).state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
        if unexpected:
            parts.append(f"unexpected keys: {', '.join(unexpected[:6])}{' ...' if len(unexpected) > 6 else ''}")
        raise CheckpointError(f"{path}: weights do not match the network ({'; '.join(parts)})")
    for name, ref in expected.items():
        if tuple(state[name].shape) != tuple(ref.shape):
            raise CheckpointError(
                f"{path}: tensor '{name}' has shape {tuple(state[name].shape)}, expected {tuple(ref.shape)}"
            )
    bad = next((k for k in expected if not torch.isfinite(state[k]).all()), None)
    if bad is not None:  # a diverged run's weights: every output would be NaN (black)
        raise CheckpointError(f"{path}: tensor '{bad}' holds NaN or infinite values (a diverged training run?)")


def _check_metadata(metadata: Any, training_state: Any, path: Path) -> None:
    """The shapes ``info``, ``stylize`` and ``train --resume`` rely on; anything else is malformed."""

    def fail(what: str):
        raise CheckpointError(f"{path}: malformed checkpoint: {what}")

    if not isinstance(metadata, dict):
        fail(f"'metadata' is a {type(metadata).__name__}, expected a dict")
    names = metadata.get("style_names")
    if names is not None and not (isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names)):
        fail("'metadata.style_names' must be a list of strings")
    styles = metadata.get("styles")
    if styles is not None and not (isinstance(styles, (list, tuple)) and all(isinstance(s, dict) for s in styles)):
        fail("'metadata.styles' must be a list of dicts")
    if metadata.get("training") is not None and not isinstance(metadata["training"], dict):
        fail("'metadata.training' must be a dict")
    if training_state is None:
        return
    if not isinstance(training_state, dict):
        fail(f"'training_state' is a {type(training_state).__name__}, expected a dict")
    # the keys --resume needs are checked where they are used (train/loop.py)


def load(path: str | os.PathLike) -> Checkpoint:
    """Read a styleport checkpoint or a bare pytorch/examples state_dict, validating every key."""
    path = Path(path)
    obj = _read(path)
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{path}: not a checkpoint (holds a {type(obj).__name__}, expected a dict)")
    if obj.get("format") == FORMAT:
        version = obj.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise CheckpointError(
                f"{path}: checkpoint format version {version!r} is newer than this styleport "
                f"understands ({FORMAT_VERSION}); upgrade styleport"
            )
        try:
            config = ModelConfig.from_dict(dict(obj["config"]))
            state = dict(obj["state_dict"])
        except KeyError as exc:
            raise CheckpointError(f"{path}: malformed styleport checkpoint (no {str(exc)[:60]} entry)") from None
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: malformed styleport checkpoint ({str(exc)[:200]})") from None
        _check_keys(state, config, path)
        metadata, training_state = obj.get("metadata") or {}, obj.get("training_state")
        _check_metadata(metadata, training_state, path)
        return Checkpoint(path, config, state, dict(metadata), training_state)
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise CheckpointError(f"{path}: not a styleport checkpoint and not a state_dict of tensors")
    state = {}
    for key, value in obj.items():
        key = key.removeprefix("module.")
        if _LEGACY_BUFFER.search(key):
            continue  # 2017 pytorch/examples files carry unused instance-norm running stats
        state[key] = value
    config = _infer_config(state, path)
    _check_keys(state, config, path)
    return Checkpoint(path, config, state, {}, None, source_format="pytorch-examples")


def save(
    path: str | os.PathLike,
    model: TransformerNet,
    metadata: dict[str, Any] | None = None,
    training_state: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Write a checkpoint atomically (temp file + rename). ``dtype=torch.float16`` halves the file."""
    path = Path(path)
    model = getattr(model, "module", model)  # unwrap DDP / DataParallel
    state = {k: v.detach().to("cpu", dtype) for k, v in model.state_dict().items()}
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": state,
        "metadata": dict(metadata or {}),
    }
    if training_state is not None:
        payload["training_state"] = training_state
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[TransformerNet, Checkpoint]:
    """Convenience: (eval-mode network, checkpoint) from a model file."""
    ckpt = load(path)
    return ckpt.build(device), ckpt
