"""ONNX Runtime: runs ``.onnx`` and ``.ort`` artifacts on CPU, CUDA, TensorRT or CoreML providers.

ONNX Runtime quietly falls back to the CPU provider when a requested provider cannot load (e.g.
onnxruntime-gpu without CUDA/cuDNN libraries). This runtime compares what was requested with
``session.get_providers()`` and reports any fallback in ``info.notes`` and ``info.provider``; with
``strict=True`` a fallback is an error instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from styleport.errors import StyleportError, UsageError, require
from styleport.runtimes.base import RunInfo, Runtime, RuntimeUnavailable, Session, check_image

PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
}
# "auto" = CUDA if present, else CPU. TensorRT (minutes of engine building per shape) and CoreML
# (runs fp32 models in fp16 on the Neural Engine) only when asked for by name.
AUTO_ORDER = ("cuda", "cpu")


def _ort():
    return require("onnxruntime", "onnx", "running ONNX models")


class OrtSession(Session):
    def __init__(self, path: Path, device: str, threads: int | None, strict: bool) -> None:
        ort = _ort()
        available = ort.get_available_providers()
        if device == "auto":
            wanted = [PROVIDERS[d] for d in AUTO_ORDER if PROVIDERS[d] in available]
        else:
            if device not in PROVIDERS:
                raise UsageError(f"unknown onnxruntime device '{device}' (choose from: auto, {', '.join(PROVIDERS)})")
            if PROVIDERS[device] not in available:
                raise RuntimeUnavailable(
                    f"onnxruntime has no {PROVIDERS[device]} in this build (available: {', '.join(available)})"
                    + ("; install 'styleport[gpu]'" if device in ("cuda", "tensorrt") else "")
                )
            wanted = [PROVIDERS[device]] + ([PROVIDERS["cpu"]] if device != "cpu" else [])
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=wanted)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StyleportError(f"{path}: onnxruntime cannot load this model ({first})") from None
        active = self.session.get_providers()
        notes = ""
        if device != "auto" and wanted[0] not in active:
            notes = f"requested {wanted[0]}, fell back to {active[0]}"
            if strict:
                raise RuntimeUnavailable(f"{path}: {notes} (libraries for {wanted[0]} missing?)")
        elif device == "auto" and wanted[0] not in active:
            notes = f"{wanted[0]} is available but did not load; running on {active[0]}"
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        self.output = self.session.get_outputs()[0].name
        if "image" not in self.inputs:
            raise StyleportError(
                f"{path}: not a styleport model (no input named 'image'; has {', '.join(self.inputs)})"
            )
        self.num_styles = None
        if "style_weights" in self.inputs:
            shape = self.inputs["style_weights"].shape
            self.num_styles = shape[-1] if isinstance(shape[-1], int) else None
        primary = active[0]
        self.info = RunInfo(
            runtime="onnxruntime",
            device={"CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "cuda"}.get(primary, "cpu"),
            provider=primary,
            threads=threads,
            notes=notes,
        )

    def run(self, image: np.ndarray, style_weights: np.ndarray | None = None) -> np.ndarray:
        image = check_image(image)
        # (H,W,3) -> (1,3,H,W)
        feeds = {"image": np.ascontiguousarray(image.transpose(2, 0, 1)[None])}
        if "style_weights" in self.inputs:
            if style_weights is None:
                if not self.num_styles:
                    raise ValueError("this multi-style model needs style_weights")
                style_weights = np.eye(self.num_styles, dtype=np.float32)[0]
            feeds["style_weights"] = np.asarray(style_weights, np.float32).reshape(1, -1)  # (S,) -> (1,S)
        y = self.session.run([self.output], feeds)[0]
        # (1,3,H,W) -> (H,W,3)
        return np.asarray(y[0].transpose(1, 2, 0), dtype=np.float32)


class OnnxRuntime(Runtime):
    name = "onnxruntime"
    formats = ("onnx", "ort")
    enable_hint = "pip install 'styleport[onnx]'"

    def device_for(self, device: str) -> str | None:
        return device if device in ("auto", "cpu", "cuda") else None

    @classmethod
    def availability(cls) -> str | None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return f"onnxruntime is not installed ({cls.enable_hint})"
        return None

    def open(self, path: Path, device: str = "auto", threads: int | None = None, strict: bool = False) -> Session:
        reason = self.availability()
        if reason:
            raise RuntimeUnavailable(reason)
        return OrtSession(Path(path), device, threads, strict)
