"""argparse ``type=`` helpers that range-check numbers at parse time (one line, exit 2)."""

from __future__ import annotations

import argparse
import math


def int_in(lo: int, hi: int | None = None):
    """An int in [lo, hi] (hi None: no upper bound)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be in {lo}..{hi if hi is not None else 'inf'}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def float_in(lo: float, hi: float, lo_open: bool = False):
    """A finite float in [lo, hi] (or (lo, hi] with ``lo_open``); nan and inf are refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
            raise argparse.ArgumentTypeError(
                f"must be a number in {'(' if lo_open else '['}{lo:g}, {hi:g}], got {text}"
            )
        return value

    parse.__name__ = "number"
    return parse


PORT = int_in(0, 65535)
