"""Headless Chromium for the demo's browser tests and benchmark (Playwright driving the system browser).

No browser is downloaded: Playwright is pointed at Debian's ``/usr/bin/chromium`` (or the path in
``STYLEPORT_CHROMIUM``). Flags keep it offline and quiet; each launch gets a fresh profile.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
FAKE_CAMERA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")  # test pattern, auto-allow


def chromium_path() -> Path | None:
    explicit = os.environ.get("STYLEPORT_CHROMIUM")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def unavailable_reason() -> str | None:
    """None when a headless browser can be driven here, else why (and how to fix it)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package 'playwright' is not installed (pip install playwright)"
    if chromium_path() is None:
        return "no Chromium found (apt-get install -y chromium, or set STYLEPORT_CHROMIUM=/path/to/chrome)"
    return None


@contextlib.contextmanager
def launch(viewport: tuple[int, int] = (1280, 860), extra_args: tuple[str, ...] = (), **options) -> Iterator[object]:
    """Start Playwright and yield a BrowserContext on a fresh profile; closed on exit.

    ``extra_args``: more Chromium flags (e.g. FAKE_CAMERA); ``options``: context options (is_mobile...).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, launch_with(pw, viewport, extra_args, **options) as context:
        yield context


@contextlib.contextmanager
def launch_with(pw, viewport=(1280, 860), extra_args: tuple[str, ...] = (), **options) -> Iterator[object]:
    """Like ``launch`` on an already started Playwright (one per thread: it cannot be nested)."""
    exe = chromium_path()
    if exe is None:
        raise RuntimeError(unavailable_reason())
    with tempfile.TemporaryDirectory(prefix="styleport-chromium-") as profile:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(exe),
            headless=True,
            args=[*FLAGS, *extra_args],
            viewport={"width": viewport[0], "height": viewport[1]},
            **options,
        )
        try:
            yield context
        finally:
            context.close()
