"""The one Precision enum used by stylize, export, runtimes and parity.

Never pass ``half=True`` / ``int8=True`` booleans around: a precision is one value.
"""

from __future__ import annotations

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
