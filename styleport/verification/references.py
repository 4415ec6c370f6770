"""What the engine compares an artifact with: the torch fp32 reference and, for a weight-quantized
artifact, the quantization-emulated reference (``styleport.verification.emulate``), plus the input
quantization both sides share. Split from ``engine.py``, which re-exports these names."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from styleport.errors import StyleportError
from styleport.parity.latency import Latency, measure
from styleport.precision import Precision
from styleport.tolerances import Tolerance, emulated_row, variant_of

if TYPE_CHECKING:
    from styleport.verification.engine import Input


@dataclasses.dataclass(frozen=True)
class Emulation:
    """The second condition of a weight-quantized artifact: its declared scheme and the row against the
    reference that applies that scheme to the checkpoint's weights (``styleport.verification.emulate``)."""

    scheme: str  # e.g. "onnx:a16w8-pc", "coreml:int8", "tfjs:uint8"
    tolerance: Tolerance
    activations: tuple = ()  # emulate.ActivationGrids a QDQ file declares (calibrated ranges, not weights)
    palettes: tuple = ()  # emulate.Palettes a palettized CoreML file declares (its tables, not its indices)
    # emulate.RequantizeGrids of an 8-bit activation QDQ file: its reference is the checkpoint re-quantized
    # with them and run in ONNX Runtime's CPU provider (exact there only: on another provider, no emulation)
    requantize: tuple = ()
    ort_style: str = ""  # an .ort file's optimization style: the re-quantized graph is saved as ORT the same way
    reconvert: bool = False  # TFLite int8: the reference is the checkpoint converted again, run in LiteRT


def bound_text(tol: Tolerance) -> str:
    return f"PSNR >= {tol.min_psnr:g} dB" + (f", max abs <= {tol.max_abs:g}" if tol.max_abs is not None else "")


def emulation_for(
    fmt: str, precision: Precision, details: Mapping[str, Any] | None = None, path: Path | str | None = None
) -> Emulation | None:
    """The second condition for an artifact whose declared scheme quantizes weights, else None. The
    scheme comes from what the artifact declares (format, precision, ONNX ``int8_scheme``); the
    emulated weights from the checkpoint (never from the artifact's stored weights). ONNX QDQ files
    also declare activation grids, read from ``path`` (an ONNX int8 file without them: None)."""
    from styleport.verification import emulate

    scheme = emulate.scheme_of(fmt, precision, details)
    row = emulated_row(fmt, precision, variant_of(fmt, precision, details)) if scheme else None
    if row is None:
        return None
    activations: tuple = ()
    palettes: tuple = ()
    if scheme.startswith("onnx:a8"):  # 8-bit activations: re-quantized by this installation's exporter, or not at all
        from styleport.export.onnx_int8 import requantize_stamp

        requantize = emulate.requantize_grids(fmt, path)
        if not requantize or (details or {}).get("int8_requantize") != requantize_stamp():
            return None
        style = str((details or {}).get("ort_optimization", "fixed")) if fmt == "ort" else ""
        return Emulation(scheme, row, requantize=requantize, ort_style=style)
    if scheme == "tflite:int8" and (details or {}).get("int8_reconvert"):
        from styleport.export.tflite import reconvert_stamp

        if details["int8_reconvert"] == reconvert_stamp():  # else: the numpy emulation and its looser row
            return Emulation(scheme, emulated_row(fmt, precision, "reconverted"), reconvert=True)
    if scheme.startswith("onnx:"):
        activations = emulate.activation_grids(fmt, path)
        if not activations:
            return None
    if scheme.startswith("coreml:palette"):
        palettes = emulate.palettes_of(fmt, path)
        if not palettes:
            return None
    return Emulation(scheme, row, activations, palettes)


def quantize_input(image: np.ndarray, bits: int | None) -> np.ndarray:
    """The input as the artifact sees it: rounded to 8-bit pixels for ``bits == 8``, else unchanged."""
    if bits is None:
        return image
    if bits != 8:
        raise StyleportError(f"unsupported input quantization: {bits} bits (styleport knows 8-bit pixels)")
    return np.clip(np.rint(image), 0, 255).astype(np.float32)


class Reference:
    """torch fp32 outputs of the model, computed once per (input, style, input quantization)."""

    def __init__(self, model, device: str = "cpu") -> None:
        from styleport.runtimes.torch import TorchRuntime

        self.model = model
        self._emulated: dict[Emulation, Any] = {}  # emulation (its row aside) -> session
        self._tmpdirs: list[Path] = []  # files an emulated session maps (LiteRT), removed by close()
        self.device = device
        self.session = TorchRuntime().session_for(model, device)
        where = device
        if device == "cuda":
            import torch

            where = f"cuda ({torch.cuda.get_device_name(0)})"
        elif self.session.info.threads:
            where = f"cpu ({self.session.info.threads} threads)"
        self.label = f"torch fp32 on {where}"
        self._cache: dict[tuple[str, str, int | None], np.ndarray] = {}

    def output(self, inp: Input, style: str, weights: np.ndarray | None, bits: int | None = None) -> np.ndarray:
        key = (inp.label, style, bits)
        if key not in self._cache:
            self._cache[key] = self.session.run(quantize_input(inp.image, bits), weights)
        return self._cache[key]

    def emulated(
        self, inp: Input, style: str, weights: np.ndarray | None, bits: int | None, scheme: Emulation
    ) -> np.ndarray:
        """The output of the checkpoint's weights put through the emulation (torch fp32, dequantized weights)."""
        what = dataclasses.replace(scheme, tolerance=None)  # all that shapes the reference (rows differ by variant)
        key = (inp.label, style, bits, what)
        if key not in self._cache:
            if what not in self._emulated:
                self._emulated[what] = self._emulated_session(scheme)
            self._cache[key] = self._emulated[what].run(quantize_input(inp.image, bits), weights)
        return self._cache[key]

    def _emulated_session(self, emulation: Emulation):
        from styleport.runtimes.torch import TorchRuntime
        from styleport.verification.emulate import emulated_model

        if emulation.requantize:
            return self._requantized_session(emulation)
        if emulation.reconvert:
            return self._reconverted_session()

        net = emulated_model(self.model, emulation.scheme, emulation.activations, emulation.palettes)
        return TorchRuntime().session_for(net, self.device)

    def _requantized_session(self, emulation: Emulation):
        """ONNX Runtime (CPU) on the checkpoint re-quantized with the file's declared scheme and grids (an .ort
        file's: then saved in ORT format as the exporter does -- run as plain ONNX it drifts from the .ort by
        ~1e-4, enough to flip 8-bit grids at 256 px: 45 dB, measured)."""
        import tempfile

        import onnx

        from styleport.export.onnx_int8 import requantize
        from styleport.runtimes.onnxruntime import OnnxRuntime

        proto = requantize(self.model, emulation.scheme.partition(":")[2], emulation.requantize)
        with tempfile.TemporaryDirectory(prefix="styleport-requantized-") as tmp:
            path = Path(tmp) / "requantized.onnx"
            if emulation.ort_style:  # ORT's saved rewrites (layout, fusions) change float sums: the same ones here
                from styleport.export.ort import save_ort

                path = path.with_suffix(".ort")
                save_ort(proto, path, Precision.INT8, emulation.ort_style)
            else:
                onnx.save(proto, str(path))
            return OnnxRuntime().open(path, device="cpu")  # the session holds the graph; the file can go

    def _reconverted_session(self):
        """LiteRT on the checkpoint converted again to a dynamic-range int8 .tflite (the same bytes as a
        right file's, metadata aside: its per-run activation quantization then rounds the same way)."""
        import tempfile

        from styleport.export.tflite import reconvert
        from styleport.runtimes.litert import LiteRTRuntime

        tmp = Path(tempfile.mkdtemp(prefix="styleport-reconverted-"))  # LiteRT maps the file: kept until close()
        self._tmpdirs.append(tmp)
        return LiteRTRuntime().open(reconvert(self.model, tmp / "reconverted.tflite"), device="cpu")

    def latency(self, inp: Input, weights: np.ndarray | None, runs: int) -> Latency:
        return measure(lambda: self.session.run(inp.image, weights), runs, inp.size)

    def close(self) -> None:
        import shutil

        self.session.close()
        for session in self._emulated.values():
            session.close()
        for tmp in self._tmpdirs:
            shutil.rmtree(tmp, ignore_errors=True)
        self._tmpdirs.clear()

    def __enter__(self) -> Reference:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
