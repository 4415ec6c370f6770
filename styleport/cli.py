"""The ``styleport`` command line: one sub-command per verb.

Each verb lives beside the code it drives and exposes ``register(subparsers)``, which adds its
parser and sets ``func(args) -> int``. Heavy imports happen inside ``func``, so ``styleport
--help`` stays fast and works without the optional extras.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from styleport import __version__
from styleport.errors import StyleportError

# Modules providing register(subparsers), in the order --help lists them.
COMMAND_MODULES = (
    "styleport.commands",  # stylize, info
    "styleport.train.command",  # train
    "styleport.export.command",  # export
    "styleport.demo.command",  # demo build, demo serve
    "styleport.parity.command",  # parity
    "styleport.evaluate_command",  # evaluate
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="styleport",
        description="Fast neural style transfer: train, stylize, export and verify style networks.",
    )
    parser.add_argument("--version", action="version", version=f"styleport {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # TensorFlow (imported by the TF.js/TFLite exporters, and by coremltools) logs every graph load
    # at INFO level from C++; set before any import so the CLI's own progress stays readable.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except StyleportError as exc:
        print(f"styleport: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("styleport: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
