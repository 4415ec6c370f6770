"""The reliability suite's world: a folder of a user's files (photos, models, a painting, training
data, an unrelated folder) plus hostile ones (truncated JPEG, random bytes, crafted checkpoints),
and an in-process CLI runner that checks what every case must hold: the exit code, one clear
``styleport:`` line, no traceback, no network call, every pre-existing file byte-identical and no
temp folder left behind.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from styleport import checkpoints
from styleport.fileutil import TEMP_PREFIX
from styleport.testing import stand_in_net

FIXTURE_PHOTOS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "photos").glob("*.jpg"))

# ---- network audit: any socket connect / DNS lookup from Python while a CLI case runs -------------
NETWORK_EVENTS = ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto")
_audit = {"on": False, "events": []}


def _hook(event: str, args) -> None:
    if _audit["on"] and event in NETWORK_EVENTS:
        _audit["events"].append((event, repr(args)[:200]))


sys.addaudithook(_hook)  # audit hooks cannot be removed; it only records while a case runs


def truncated_jpeg(path: Path, source: Path) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header is intact: Image.open succeeds, decoding fails
    return path


def _crafted(world: Path, model: Path) -> None:
    base = torch.load(model, weights_only=True)

    def variant(name: str, change) -> None:
        obj = copy.deepcopy(base)
        change(obj)
        torch.save(obj, world / name)

    variant("res_blocks.pth", lambda o: o["config"].update(res_blocks=100000))
    variant("num_styles.pth", lambda o: o["config"].update(num_styles=300000))
    variant("bad_shape.pth", lambda o: o["state_dict"].update({"in1.weight": torch.zeros(300000, 8)}))
    variant("bad_metadata.pth", lambda o: o.update(metadata=["not", "a", "dict"]))
    variant("bad_styles.pth", lambda o: o.update(metadata={"styles": "x"}))
    variant("bad_state.pth", lambda o: o.update(training_state={"step": "x"}))
    escape = "\x1b[2J\x1b]0;owned\x07\x1b[31mred"
    variant("escape.pth", lambda o: o.update(metadata={"description": escape, "styles": [{"name": escape}]}))
    (world / "random.pth").write_bytes(np.random.default_rng(0).bytes(4096))
    (world / "exported.onnx").write_bytes(b"\x08\x07")


def build_world(root: Path) -> Path:
    root.mkdir(parents=True)
    photos = root / "photos"
    photos.mkdir()
    for src in FIXTURE_PHOTOS[:2]:
        shutil.copyfile(src, photos / src.name)
    model = checkpoints.save(root / "model.pth", stand_in_net(0.25), {"style_names": ["tiny"]})
    checkpoints.save(root / "two.pth", stand_in_net(0.25, num_styles=2), {"style_names": ["a", "b"]})
    _crafted(root, model)
    truncated_jpeg(root / "truncated.jpg", FIXTURE_PHOTOS[2])
    (root / "zero.ppm").write_bytes(b"P6\n0 0\n255\n")
    (root / "bomb.png").write_bytes(png_header(30000, 30000))  # above Pillow's own 179 MP decompression limit
    frames = [Image.new("RGB", (40, 30), c) for c in ("red", "green", "blue")]
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:])
    style = (np.indices((48, 64)).sum(0) % 16 * 16).astype(np.uint8)
    Image.fromarray(np.stack([style, 255 - style, style // 2], -1)).save(root / "painting.png")
    data = root / "data"
    data.mkdir()
    for src in FIXTURE_PHOTOS[3:6]:
        shutil.copyfile(src, data / src.name)
    truncated_jpeg(data / "aaa_truncated.jpg", FIXTURE_PHOTOS[0])  # sorts first: chosen as a preview
    foreign = root / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("a user's own folder: styleport must never replace or write into it\n")
    (root / "a_file.txt").write_text("a user's file\n")
    return root


@pytest.fixture(scope="session")
def world_template(tmp_path_factory) -> Path:
    return build_world(tmp_path_factory.mktemp("template") / "world")


@pytest.fixture()
def world(world_template, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "world"
    shutil.copytree(world_template, root)
    monkeypatch.chdir(root)
    monkeypatch.setenv("STYLEPORT_CACHE", str(tmp_path / "cache"))
    return root


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def leftovers(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX)]


@dataclasses.dataclass
class Run:
    code: int
    out: str
    err: str
    network: list
    changed: list[str]  # pre-existing files that differ or vanished
    left: list[str]  # temp folders left behind

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture()
def cli(world, capsys):
    """In-process ``styleport ARGS`` in the world folder -> Run; a traceback fails the test."""
    from styleport.cli import main

    threads = torch.get_num_threads()

    def call(args: list[str]) -> Run:
        before = snapshot(world)
        _audit.update(on=True, events=[])
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # --help / --version only
            code = exc.code or 0
        finally:
            _audit["on"] = False
            torch.set_num_threads(threads)
        captured = capsys.readouterr()
        after = snapshot(world)
        changed = [name for name, digest in before.items() if after.get(name) != digest]
        return Run(code, captured.out, captured.err, list(_audit["events"]), changed, leftovers(world))

    return call


@pytest.fixture()
def readonly(tmp_path):
    """A folder nobody may write into: a read-only tmpfs as root (chmod does not stop root), else chmod 555."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    (folder / "existing.txt").write_text("kept\n")
    mounted = False
    if os.geteuid() == 0:
        staging = tmp_path / "staging"
        shutil.copytree(folder, staging)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], check=True)
        shutil.copytree(staging, folder, dirs_exist_ok=True)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        mounted = True
    else:
        folder.chmod(0o555)
    try:
        yield folder
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)
        else:
            folder.chmod(0o755)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height RGB (and no pixel data): what a huge photo looks like to Image.open."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
