"""Turn a converter's failure on an unsupported operator into one clear line naming op and format."""

from __future__ import annotations

import re

from styleport.errors import StyleportError

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Most specific first: torch.onnx dynamo's DispatchError / ConversionError text, then generic forms.
_PATTERNS = (
    r"OpOverload\(op='([\w.:]+)'",  # No ONNX function found for <OpOverload(op='aten._linalg_eigh', ...
    r"target=torch\.ops\.(\w+\.\w+)",  # Error when translating node ... target=torch.ops.aten.histc.default
    r"(aten(?:::|\.)[A-Za-z_]\w*)",
    r"No (?:Op|op|kernel) registered for ([A-Za-z_]\w*)",
    r"[Uu]nsupported (?:op|operator|operation)[^A-Za-z_]*([A-Za-z_][\w.:]*)",
    r"op(?:erator)? type[: ]+'?([A-Za-z_]\w*)",
)
# torch.onnx puts the real cause under "## Exception summary" as "<class 'X'>: message"
_CAUSE = re.compile(r"Exception summary.*?<class '[\w.]+'>: ([^\n]+)", re.S)


class UnsupportedOpError(StyleportError):
    """The network uses an operator the target format (or its converter) cannot express."""

    def __init__(self, fmt: str, op: str, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(f"{fmt} export: operator '{op}' is not supported by the {fmt} converter{extra}")
        self.format = fmt
        self.op = op


def find_op(text: str) -> str | None:
    for pattern in _PATTERNS:
        m = re.search(pattern, text)
        if m:
            return m.group(1).rstrip(".")
    return None


def conversion_error(fmt: str, exc: BaseException) -> StyleportError:
    """A StyleportError for a converter exception: UnsupportedOpError when an op can be named."""
    text = _ANSI.sub("", f"{type(exc).__name__}: {exc}")
    cause = _CAUSE.search(text)
    plain = _ANSI.sub("", str(exc))
    first = cause.group(1).strip() if cause else next((ln.strip() for ln in plain.splitlines() if ln.strip()), "")
    first = first or type(exc).__name__
    op = find_op(text)
    if op:
        return UnsupportedOpError(fmt, op, first[:200])
    return StyleportError(f"{fmt} export failed: {first[:300]}")
