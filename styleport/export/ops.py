"""Turn a converter's failure on an unsupported operator into one clear line naming op and format."""

from __future__ import annotations

import re

from styleport.errors import StyleportError

# aten::foo / aten.foo.default / torch.ops.aten.foo / "No Op registered for Foo" / "op type Foo"
_PATTERNS = (
    r"(aten(?:::|\.)[A-Za-z_][\w.]*)",
    r"No (?:Op|op|kernel) registered for ([A-Za-z_]\w*)",
    r"[Uu]nsupported (?:op|operator|operation)[^A-Za-z_]*([A-Za-z_][\w.:]*)",
    r"op(?:erator)? type[: ]+'?([A-Za-z_]\w*)",
)


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
    text = f"{type(exc).__name__}: {exc}"
    op = find_op(text)
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    if op:
        return UnsupportedOpError(fmt, op, first[:200])
    return StyleportError(f"{fmt} export failed: {first[:300]}")
