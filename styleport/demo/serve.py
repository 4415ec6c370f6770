"""``styleport demo serve``: a local static server with the headers the demo needs.

- ``Cross-Origin-Opener-Policy: same-origin`` + ``Cross-Origin-Embedder-Policy: require-corp``
  make the page cross-origin isolated, which enables SharedArrayBuffer and so multi-threaded
  WebAssembly in ONNX Runtime Web and TF.js (whether threads pay off depends on idle cores:
  see styleport/data/web/MANIFEST.md for what bench/web_latency.py measured).
- Correct MIME types for ``.wasm`` (``application/wasm``, needed for streaming compilation) and
  ``.mjs`` (JavaScript modules are refused with any non-JavaScript type).
- Binds 127.0.0.1 only; it is a development server, not for the internet.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

from styleport.errors import UsageError

HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}
MIME_TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".bin": "application/octet-stream",
    ".onnx": "application/octet-stream",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}


class DemoHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    quiet = False

    def end_headers(self) -> None:
        for key, value in HEADERS.items():
            self.send_header(key, value)
        super().end_headers()

    def send_head(self):
        """Serve only files inside the site: a symlink (or ``..``) that leads outside it is a 404."""
        root = os.path.realpath(self.directory)
        target = os.path.realpath(self.translate_path(self.path))
        if target != root and not target.startswith(root + os.sep):
            self.send_error(404, "File not found")
            return None
        return super().send_head()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature from the base class
        if not self.quiet:
            super().log_message(format, *args)


def check_site(root: Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder; build a site with: styleport demo build -o NEW_FOLDER")
    if not (root / "index.html").is_file():
        raise UsageError(
            f"{root}: not a built demo site (no index.html); build one into a new folder with: "
            "styleport demo build -o NEW_FOLDER"
        )
    if not (root / "models.json").is_file():
        raise UsageError(
            f"{root}: no models.json; build a site into a new folder with: styleport demo build -o NEW_FOLDER"
        )
    return root


def make_server(root: Path, port: int = 8000, quiet: bool = False) -> http.server.ThreadingHTTPServer:
    """A server for ``root`` on 127.0.0.1:``port`` (0 = any free port); not yet serving."""
    root = check_site(root)
    handler = functools.partial(type("Handler", (DemoHandler,), {"quiet": quiet}), directory=str(root))
    try:
        return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); pick another --port") from None


def url_of(server: http.server.ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"


class Background:
    """Serve in a daemon thread (tests, benchmarks): ``with Background(site) as url: ...``."""

    def __init__(self, root: Path, port: int = 0) -> None:
        self.server = make_server(root, port, quiet=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return url_of(self.server)

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(root: Path, port: int = 8000) -> int:
    server = make_server(root, port)
    print(f"serving {Path(root).resolve()} at {url_of(server)}  (cross-origin isolated; Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0
