"""styleport demo serve: isolation headers, MIME types, loopback only, clear errors."""

from __future__ import annotations

import urllib.request

import pytest

from styleport.demo import serve
from styleport.errors import UsageError


@pytest.fixture()
def site(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>x</title>")
    (tmp_path / "models.json").write_text('{"format": "styleport-demo"}')
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "a.wasm").write_bytes(b"\0asm\1\0\0\0")
    (tmp_path / "vendor" / "b.mjs").write_text("export const x = 1;")
    (tmp_path / "m.onnx").write_bytes(b"\x08\x07")
    return tmp_path


def fetch(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers, response.read()


def test_serves_with_isolation_headers_and_mime_types(site):
    with serve.Background(site) as url:
        assert url.startswith("http://127.0.0.1:")
        status, headers, body = fetch(url)
        assert status == 200 and b"<title>x</title>" in body
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert fetch(url + "vendor/a.wasm")[1]["Content-Type"] == "application/wasm"
        assert fetch(url + "vendor/b.mjs")[1]["Content-Type"].startswith("text/javascript")
        assert fetch(url + "models.json")[1]["Content-Type"].startswith("application/json")
        assert fetch(url + "m.onnx")[1]["Content-Type"] == "application/octet-stream"


def test_binds_loopback_only(site):
    server = serve.make_server(site, 0, quiet=True)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


def test_refuses_a_folder_that_is_not_a_built_site(tmp_path):
    with pytest.raises(UsageError, match="not a built demo site"):
        serve.make_server(tmp_path, 0)
    (tmp_path / "index.html").write_text("x")
    with pytest.raises(UsageError, match="no models.json"):
        serve.make_server(tmp_path, 0)


def test_busy_port_is_a_usage_error(site):
    first = serve.make_server(site, 0, quiet=True)
    try:
        port = first.server_address[1]
        with pytest.raises(UsageError, match=f"cannot listen on 127.0.0.1:{port}"):
            serve.make_server(site, port)
    finally:
        first.server_close()
