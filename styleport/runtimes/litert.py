"""LiteRT (TFLite) runtime: the ``ai-edge-litert`` Interpreter running ``.tflite`` artifacts on CPU.

H and W are dynamic: before each image whose size differs from the last, the input tensor is
resized (``resize_tensor_input``) and tensors are re-allocated. The interpreter uses the AUTO op
resolver (builtin kernels, with the XNNPACK delegate applied by default where it supports the
graph); the thread count is set explicitly and reported.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from styleport.errors import StyleportError, UsageError
from styleport.runtimes.base import RunInfo, Runtime, RuntimeUnavailable, Session, check_image

INPUT_NAME, STYLE_INPUT_NAME, OUTPUT_NAME = "image", "style_weights", "stylized"


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise RuntimeUnavailable(
            "the LiteRT interpreter (ai-edge-litert) is not installed: pip install 'styleport[tflite]'"
        ) from None
    return Interpreter


def _find(details: list[dict], name: str) -> dict | None:
    """Tensor details whose name is ``name`` or ``serving_default_<name>:0``-like."""
    for d in details:
        if d["name"] == name or d["name"].startswith(f"serving_default_{name}:"):
            return d
    return None


def read_metadata(path: Path, name: str = "styleport") -> dict | None:
    """The JSON metadata entry ``name`` of a .tflite file (written by the tflite exporter), or None."""
    import json
    import struct

    from ai_edge_litert import schema_py_generated as schema

    data = Path(path).read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":  # flatbuffer file identifier of TFLite models
        raise StyleportError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        model = schema.Model.GetRootAsModel(data, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() == name.encode():
                return json.loads(bytes(model.Buffers(entry.Buffer()).DataAsNumpy()))
    except (ValueError, IndexError, TypeError, UnicodeDecodeError, struct.error) as exc:  # malformed flatbuffer / JSON
        raise StyleportError(f"{path}: unreadable TFLite metadata ({exc})") from None
    return None


class LiteRTSession(Session):
    def __init__(self, path: Path, threads: int) -> None:
        interpreter_class = _interpreter_class()
        if not path.is_file():
            raise StyleportError(f"{path}: no such .tflite file")
        try:
            self.interp = interpreter_class(model_path=str(path), num_threads=threads)
        except (ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StyleportError(f"{path}: LiteRT cannot load this model ({first})") from None
        self.path = path
        inputs = self.interp.get_input_details()
        self.image = _find(inputs, INPUT_NAME)
        self.style = _find(inputs, STYLE_INPUT_NAME)
        if self.image is None:
            names = ", ".join(d["name"] for d in inputs)
            raise StyleportError(f"{path}: not a styleport model (no input named '{INPUT_NAME}'; has {names})")
        outputs = self.interp.get_output_details()
        out = _find(outputs, OUTPUT_NAME) or (outputs[0] if len(outputs) == 1 else None)
        if out is None:
            raise StyleportError(f"{path}: no output named '{OUTPUT_NAME}'")
        self.output_index = out["index"]
        self.num_styles = int(self.style["shape"][-1]) if self.style is not None else 1
        self.current: tuple[int, int] | None = None
        self.info = RunInfo(
            runtime="litert",
            device="cpu",
            provider="LiteRT builtin kernels (AUTO resolver: XNNPACK delegate by default)",
            threads=threads,
        )

    def _resize(self, height: int, width: int) -> None:
        if self.current == (height, width):
            return
        self.interp.resize_tensor_input(self.image["index"], [1, height, width, 3], strict=False)
        self.interp.allocate_tensors()
        self.current = (height, width)

    def run(self, image: np.ndarray, style_weights: np.ndarray | None = None) -> np.ndarray:
        image = check_image(image)
        h, w = image.shape[:2]
        self._resize(h, w)
        self.interp.set_tensor(self.image["index"], image[None])  # (H,W,3) -> (1,H,W,3)
        if self.style is not None:
            if style_weights is None:
                style_weights = np.eye(self.num_styles, dtype=np.float32)[0]
            sw = np.asarray(style_weights, np.float32).reshape(1, -1)  # (S,) -> (1,S)
            if sw.shape[1] != self.num_styles:
                raise UsageError(f"{self.path}: expects {self.num_styles} style weights, got {sw.shape[1]}")
            self.interp.set_tensor(self.style["index"], sw)
        elif style_weights is not None and np.asarray(style_weights).size > 1:
            raise UsageError(f"{self.path}: a single-style model takes no style weights")
        self.interp.invoke()
        out = self.interp.get_tensor(self.output_index)  # (1,H,W,3)
        return np.array(out[0], dtype=np.float32)  # copy: the interpreter reuses its buffers

    def close(self) -> None:
        self.interp = None


class LiteRTRuntime(Runtime):
    name = "litert"
    formats = ("tflite",)
    enable_hint = "pip install 'styleport[tflite]'"

    def device_for(self, device: str) -> str | None:
        return device if device in ("auto", "cpu") else None  # CPU only (XNNPACK)

    @classmethod
    def availability(cls) -> str | None:
        try:
            _interpreter_class()
        except RuntimeUnavailable as exc:
            return str(exc)
        return None

    def open(self, path: Path, device: str = "auto", threads: int | None = None, **options) -> Session:
        if device not in ("auto", "cpu"):
            raise RuntimeUnavailable(f"litert here runs on cpu only (asked for '{device}')")
        if options:
            raise UsageError(f"litert: unknown options {', '.join(sorted(options))} (known: threads)")
        return LiteRTSession(Path(path), threads or os.cpu_count() or 1)
