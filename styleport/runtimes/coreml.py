"""CoreML runtime: Apple's ``MLModel.predict`` on macOS, the numpy MIL interpreter elsewhere.

On Linux (and Windows) nothing from Apple can execute an .mlpackage, so the artifact is run by
``styleport.runtimes.mil``, which reads the saved package itself. Its ``RunInfo`` says
``device="linux-interpreter"`` with the note "numpy MIL interpreter, not Apple's runtime", so no
report can mistake it for a device measurement. ``open(path, interpreter=True)`` forces the
interpreter on macOS too (to compare the two).

Image-I/O models take 8-bit pixels: ``run`` rounds the float input to uint8 as a CVPixelBuffer
would hold it, and returns the 8-bit output image as float32. Tensor-I/O models pass floats.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from styleport.runtimes.base import RunInfo, Runtime, RuntimeUnavailable, Session, check_image

INTERPRETER_NOTE = "numpy MIL interpreter, not Apple's runtime"
_COMPUTE_UNITS = {"auto": "ALL", "all": "ALL", "cpu": "CPU_ONLY", "gpu": "CPU_AND_GPU", "ane": "CPU_AND_NE"}


def _to_pixels(image: np.ndarray) -> np.ndarray:
    """(H,W,3) float 0..255 -> (H,W,3) uint8, rounded and clipped (what an 8-bit pixel buffer holds)."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _style_feed(style_weights: np.ndarray | None, num_styles: int) -> np.ndarray:
    """(S,) or (1,S) weights, or None = style 0 (as the torch reference does) -> (1,S) float32."""
    if style_weights is None:
        sw = np.zeros((1, num_styles), dtype=np.float32)
        sw[0, 0] = 1.0
        return sw
    sw = np.asarray(style_weights, dtype=np.float32).reshape(1, -1)  # (S,) -> (1,S)
    if sw.shape[1] != num_styles:
        raise ValueError(f"style_weights must have {num_styles} entries, got {sw.shape[1]}")
    return sw


class _InterpreterSession(Session):
    def __init__(self, path: Path) -> None:
        from styleport.runtimes.mil import Interpreter

        self.model = Interpreter(path)
        self.image_io = self.model.inputs["image"].kind == "image"
        self.input_bits = 8 if self.image_io else None  # an image input holds uint8 pixels
        self.num_styles = (
            int(self.model.inputs["style_weights"].fixed[-1]) if "style_weights" in self.model.inputs else 1
        )
        precision = "fp16 storage emulated" if self.model.program.is_fp16 else "fp32"
        self.info = RunInfo(
            "coreml", "linux-interpreter", f"styleport MIL interpreter ({precision})", None, INTERPRETER_NOTE
        )

    def run(self, image: np.ndarray, style_weights: np.ndarray | None = None) -> np.ndarray:
        image = check_image(image)
        if self.image_io:
            feeds = {"image": _to_pixels(image)}
        else:
            feeds = {"image": np.ascontiguousarray(image.transpose(2, 0, 1))[None]}  # (H,W,3) -> (1,3,H,W)
        if "style_weights" in self.model.inputs:
            feeds["style_weights"] = _style_feed(style_weights, self.num_styles)
        out = self.model.predict(feeds)["stylized"]
        if self.image_io:
            return out.astype(np.float32)  # (H,W,3) uint8 -> float32
        return np.ascontiguousarray(out[0].transpose(1, 2, 0), dtype=np.float32)  # (1,3,H,W) -> (H,W,3)


class _AppleSession(Session):  # pragma: no cover - runs on macOS only (tests marked `macos`)
    def __init__(self, path: Path, device: str) -> None:
        import coremltools as ct

        units = _COMPUTE_UNITS.get(device)
        if units is None:
            raise RuntimeUnavailable(f"unknown CoreML device '{device}' (choose from {', '.join(_COMPUTE_UNITS)})")
        self.model = ct.models.MLModel(str(path), compute_units=getattr(ct.ComputeUnit, units))
        spec = self.model.get_spec()
        inputs = {f.name: f for f in spec.description.input}
        self.image_io = inputs["image"].type.WhichOneof("Type") == "imageType"
        self.input_bits = 8 if self.image_io else None
        self.num_styles = inputs["style_weights"].type.multiArrayType.shape[-1] if "style_weights" in inputs else 1
        self.info = RunInfo("coreml", f"apple-{units.lower()}", "MLModel.predict")

    def run(self, image: np.ndarray, style_weights: np.ndarray | None = None) -> np.ndarray:
        from PIL import Image

        image = check_image(image)
        if self.image_io:
            feeds: dict = {"image": Image.fromarray(_to_pixels(image), "RGB")}
        else:
            feeds = {"image": np.ascontiguousarray(image.transpose(2, 0, 1))[None]}  # (H,W,3) -> (1,3,H,W)
        if self.num_styles > 1:
            feeds["style_weights"] = _style_feed(style_weights, self.num_styles)
        out = self.model.predict(feeds)["stylized"]
        if self.image_io:
            return np.asarray(out.convert("RGB"), dtype=np.float32)  # PIL (W,H) RGB -> (H,W,3)
        return np.ascontiguousarray(np.asarray(out)[0].transpose(1, 2, 0), dtype=np.float32)  # (1,3,H,W) -> (H,W,3)


class CoreMLRuntime(Runtime):
    name = "coreml"
    formats = ("coreml",)
    enable_hint = "pip install 'styleport[coreml]'"

    def device_for(self, device: str) -> str | None:
        if device == "cuda":
            return None
        return "auto" if device == "auto" or sys.platform != "darwin" else "cpu"

    def describe(self, info: RunInfo | None) -> str:
        """The interpreter on Linux is never passed off as CoreML."""
        if info is not None and info.device == "linux-interpreter":
            return "numpy MIL interpreter (styleport.runtimes.mil) on Linux, not Apple's CoreML runtime"
        return super().describe(info)

    @classmethod
    def availability(cls) -> str | None:
        if importlib.util.find_spec("coremltools") is None:
            return f"coremltools is not installed (needed to read .mlpackage files): {cls.enable_hint}"
        return None

    def open(self, path: Path, device: str = "auto", **options) -> Session:
        reason = self.availability()
        if reason is not None:
            raise RuntimeUnavailable(reason)
        path = Path(path)
        if sys.platform == "darwin" and not options.get("interpreter", False):  # pragma: no cover - macOS
            return _AppleSession(path, device)
        if device not in ("auto", "cpu"):
            raise RuntimeUnavailable(
                f"CoreML device '{device}' needs macOS; here only the numpy interpreter (cpu) runs"
            )
        return _InterpreterSession(path)
