"""The ``styleport`` command line: one sub-command per verb.

Each verb lives beside the code it drives and exposes ``register(subparsers)``, which adds its
parser and sets ``func(args) -> int``. Heavy imports happen inside ``func``, so ``styleport
--help`` stays fast and works without the optional extras.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from styleport import __version__, fileutil, quiet
from styleport.errors import StyleportError, UsageError

# Modules providing register(subparsers), in the order --help lists them.
COMMAND_MODULES = (
    "styleport.commands",  # stylize, info
    "styleport.train.command",  # train
    "styleport.export.command",  # export
    "styleport.demo.command",  # demo build, demo serve
    "styleport.parity.command",  # parity
    "styleport.verification.command",  # verify
    "styleport.evaluate_command",  # evaluate
)


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one UsageError line (``styleport: error: ...``, exit 2), not usage + error."""

    def error(self, message: str):
        raise UsageError(f"{message} (see: {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="styleport",
        description="Fast neural style transfer: train, stylize, export and verify style networks.",
    )
    parser.add_argument("--version", action="version", version=f"styleport {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    _add_verbose(parser)
    return parser


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    """``--verbose`` on every (sub-)command: show third-party log output (styleport/quiet.py)."""
    parser.add_argument(
        "--verbose", action="store_true", default=argparse.SUPPRESS, help="show third-party log output too"
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _add_verbose(child)


def main(argv: list[str] | None = None) -> int:
    # Before any third-party import: no telemetry, and native loggers (TensorFlow, absl) quiet.
    args_list = sys.argv[1:] if argv is None else list(argv)
    quiet.environment(verbose="--verbose" in args_list)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
        command = "-".join(str(getattr(args, k)) for k in ("command", "demo_command") if getattr(args, k, None))
        quiet.configure(getattr(args, "verbose", False), command or "run")
        code = int(args.func(args) or 0)
        log = quiet.used_log()
        if log is not None and code == 0:  # on failure the one error line stays alone
            print(
                f"styleport: third-party messages (TensorFlow, coremltools, ...) are in {log}; --verbose shows them",
                file=sys.stderr,
            )
        return code
    except StyleportError as exc:
        print(f"styleport: error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("styleport: interrupted", file=sys.stderr)
        return 130
    finally:
        fileutil.release_unused()  # output folders this run created but never wrote into
        quiet.finish()


def one_line(text: str) -> str:
    """Error text as one printable line: control characters (terminal escapes, newlines) removed."""
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
