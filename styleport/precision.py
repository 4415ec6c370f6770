"""The one Precision enum used by stylize, export, runtimes and parity.

Never pass ``half=True`` / ``int8=True`` booleans around: a precision is one value.
"""

from __future__ import annotations

import contextlib
import enum

from styleport.errors import UsageError


class Precision(str, enum.Enum):
    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"
    INT8 = "int8"  # int8 weights (and, where the format supports it, activations)
    UINT8 = "uint8"  # TF.js uint8 weight quantization
    PALETTE6 = "palette6"  # CoreML 6-bit palettized weights
    PALETTE4 = "palette4"  # CoreML 4-bit palettized weights

    def __str__(self) -> str:  # argparse and f-strings show "fp16", not "Precision.FP16"
        return self.value

    @classmethod
    def parse(cls, text: str) -> Precision:
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(p.value for p in cls)
            raise UsageError(f"unknown precision '{text}' (choose from: {choices})") from None

    @property
    def torch_dtype(self):
        """The torch compute dtype for eager execution (fp32/bf16/fp16 only)."""
        import torch

        table = {Precision.FP32: torch.float32, Precision.BF16: torch.bfloat16, Precision.FP16: torch.float16}
        if self not in table:
            raise UsageError(f"precision {self.value} is an export format precision, not a torch dtype")
        return table[self]


NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 CPU flags (Linux /proc/cpuinfo) for native bf16 math


def cpu_bf16_flags(cpuinfo: str | None = None) -> tuple[str, ...]:
    """The native-bf16 flags this CPU reports (empty where /proc/cpuinfo is missing: macOS, Windows).

    torch's own query (``torch.ops.mkldnn._is_mkldnn_bf16_supported``) also says yes on plain
    AVX-512 CPUs, where oneDNN emulates bf16 and it is slower than fp32; the flags do not.
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read(1 << 20)
        except OSError:
            return ()
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return tuple(f for f in NATIVE_BF16_FLAGS if f in flags)


def native_cpu_bf16(cpuinfo: str | None = None) -> bool:
    """True where this CPU computes bf16 natively (the flags above) and torch has oneDNN: the one test
    every ``auto`` choice (stylize, train, optimize) makes on CPU."""
    import torch

    return bool(cpu_bf16_flags(cpuinfo)) and torch.backends.mkldnn.is_available()


def auto_precision(device, cpuinfo: str | None = None) -> tuple[Precision, str]:
    """(precision, reason) for ``--precision auto`` on a torch device: bf16 on CPUs with native bf16
    (AVX-512 bf16 or AMX), fp16 on CUDA, fp32 otherwise (other CPUs, MPS)."""

    if device.type == "cuda":
        return Precision.FP16, "CUDA device: fp16 autocast"
    if device.type == "cpu":
        if native_cpu_bf16(cpuinfo):
            return Precision.BF16, f"CPU has {'+'.join(cpu_bf16_flags(cpuinfo))}: bf16 autocast"
        return Precision.FP32, "CPU without native bf16 (no avx512_bf16/amx_bf16 flag): fp32"
    return Precision.FP32, f"{device.type} device: fp32 (half precision untested there)"


def cuda_conv_flags(precision: Precision, device_type: str):
    """The cuDNN settings of an inference forward on CUDA (a no-op context on other devices).

    benchmark: cuDNN times its conv algorithms once per input shape and keeps the fastest (folders
    and videos repeat one size). fp32 without TF32: cuDNN convs on Ampere and later GPUs default to
    TF32 (10-bit mantissa), so an "fp32" run -- the parity reference, ``--precision fp32`` -- would
    carry ~1e-3 relative error, far outside the fp32 rows (>= 90 dB) a correct artifact meets.
    fp16/bf16 autocast runs its convs in half precision either way. Written for CUDA; this project's
    development machine has no GPU, so this is untested on one (docs/performance.md, GPU notes).
    """
    import torch

    if device_type != "cuda":
        return contextlib.nullcontext()
    cudnn = torch.backends.cudnn
    return cudnn.flags(
        enabled=True,
        benchmark=True,
        benchmark_limit=cudnn.benchmark_limit,
        deterministic=cudnn.deterministic,
        allow_tf32=cudnn.allow_tf32 and precision is not Precision.FP32,
    )
