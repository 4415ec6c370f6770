"""Typed errors. Every user-facing failure is a StyleportError with a one-line message.

The CLI prints ``styleport: error: <message>`` and exits with ``exit_code``; nothing else
is caught, so a bug still shows its traceback.
"""

from __future__ import annotations


class StyleportError(Exception):
    """Base class: a clear, one-line, user-facing failure."""

    exit_code = 1


class ImageError(StyleportError):
    """An input image is missing, corrupt, truncated or unsupported."""


class VideoError(ImageError):
    """An input video is corrupt, truncated, has no video stream or a codec FFmpeg cannot decode."""


class CheckpointError(StyleportError):
    """A model file is missing, truncated, not a checkpoint or has the wrong keys."""


class OutputError(StyleportError):
    """An output cannot be written, or writing it would replace something styleport must not touch."""


class UsageError(StyleportError):
    """Bad command-line arguments or options (checked before any work starts)."""

    exit_code = 2


class MissingDependencyError(StyleportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str, purpose: str = "") -> None:
        what = f" for {purpose}" if purpose else ""
        super().__init__(
            f"the optional dependency '{module}' is needed{what}: install it with  pip install 'styleport[{extra}]'"
        )
        self.module = module
        self.extra = extra


def require(module: str, extra: str, purpose: str = ""):
    """Import an optional dependency lazily, or raise MissingDependencyError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(module, extra, purpose) from exc
