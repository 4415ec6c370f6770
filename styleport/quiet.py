"""Quiet output: styleport's own lines on the terminal, third-party chatter in a log file.

TensorFlow, absl, XNNPACK, coremltools and scikit-learn write warnings and INFO lines from Python
and from native code (straight to file descriptors 1 and 2). ``environment()`` sets the variables
the native loggers read at import time; ``third_party()`` wraps calls into those libraries and
sends both the Python streams and the raw file descriptors to ``log_path()`` (or leaves them
alone with ``--verbose``). Inside it, styleport prints through ``out()`` / ``err()``, which still
reach the terminal. The CLI says where the log is when anything landed there.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

# Read by native code at import time; set before anything imports those libraries.
NATIVE_QUIET = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow C++ (oneDNN notes, cuda factories, placer)
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "2",
    "ABSL_MIN_LOG_LEVEL": "2",
}
NO_NETWORK = {
    # ONNX Runtime's native module (1.2x+ wheels) sends 1DS telemetry to mobile.events.data.microsoft.com
    # from a timer thread and keeps a device id + database under ~/.cache/Microsoft; only this
    # variable, read when onnxruntime is imported, turns it off (disable_telemetry_events() does not).
    "ORT_DISABLE_TELEMETRY": "1",
}

_state = {"verbose": False, "depth": 0, "out": None, "err": None, "log": None, "used": False, "command": "run"}


def environment(verbose: bool = False) -> None:
    """Set the environment before third-party imports: no telemetry ever; quiet native logs unless verbose."""
    os.environ.update(NO_NETWORK)
    if not verbose:
        for key, value in NATIVE_QUIET.items():
            os.environ.setdefault(key, value)


def configure(verbose: bool, command: str = "run") -> None:
    """Start a command: a fresh log file (``logs/<command>.log``) the first time it is needed."""
    if _state["log"] is not None and not _state["depth"]:
        _state["log"].close()
        _state["log"] = None
    _state["verbose"], _state["command"], _state["used"] = verbose, command, False
    environment(verbose)


def finish() -> None:
    """End of a command: close the log file."""
    if _state["log"] is not None and not _state["depth"]:
        _state["log"].close()
        _state["log"] = None


def log_path() -> Path:
    override = os.environ.get("STYLEPORT_CACHE")
    base = (
        Path(override) if override else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "styleport"
    )
    return base / "logs" / f"{_state['command']}.log"


def out():
    """The terminal's stdout, also inside ``third_party()``."""
    return _state["out"] if _state["depth"] else sys.stdout


def err():
    """The terminal's stderr, also inside ``third_party()``."""
    return _state["err"] if _state["depth"] else sys.stderr


def say(text: str) -> None:
    print(text, file=out(), flush=True)


def used_log() -> Path | None:
    """The log file, if third-party output went there during this command."""
    log = _state["log"]
    if log is None or not _state["used"]:
        return None
    log.flush()
    return Path(log.name) if Path(log.name).stat().st_size else None


def _open_log():
    if _state["log"] is None:
        path = log_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _state["log"] = open(path, "w", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError:
            _state["log"] = open(os.devnull, "w")  # noqa: SIM115 - no cache folder: drop the chatter
    return _state["log"]


def _console(stream, fd: int) -> tuple[object, int | None]:
    """A stream that still reaches what ``fd`` points at now, after fd is redirected."""
    try:
        real = stream.fileno() == fd
    except (AttributeError, OSError, io.UnsupportedOperation):
        real = False
    if not real:  # pytest capsys, an io.StringIO: not affected by fd redirection
        return stream, None
    stream.flush()
    dup = os.dup(fd)
    return io.TextIOWrapper(os.fdopen(dup, "wb", buffering=0), write_through=True), dup


@contextlib.contextmanager
def third_party() -> Iterator[None]:
    """Send everything written to stdout/stderr (Python and native) to the log, unless verbose."""
    if _state["verbose"] or _state["depth"]:  # verbose: leave everything alone; nested: already redirected
        yield
        return
    log = _open_log()
    console_out, dup_out = _console(sys.stdout, 1)
    console_err, dup_err = _console(sys.stderr, 2)
    saved = sys.stdout, sys.stderr
    saved_fds = []
    for fd in (1, 2):
        try:
            saved_fds.append((fd, os.dup(fd)))
            os.dup2(log.fileno(), fd)
        except OSError:
            pass
    _state.update(out=console_out, err=console_err, depth=1, used=True)
    sys.stdout = sys.stderr = log
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            yield
    finally:
        log.flush()
        sys.stdout, sys.stderr = saved
        for fd, copy in saved_fds:
            os.dup2(copy, fd)
            os.close(copy)
        for stream, dup in ((console_out, dup_out), (console_err, dup_err)):
            if dup is not None:
                stream.flush()
                stream.close()
        _state.update(out=None, err=None, depth=0)
