"""Video test helpers: tiny synthetic clips (64x48, a pan and zoom over a fixture photo, sine tone),
broken files made from them, and an in-process ``styleport`` caller."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

av = pytest.importorskip("av", reason="needs styleport[video] (PyAV)")
pytest.importorskip("cv2", reason="needs styleport[video] (opencv-python-headless)")

from styleport.video.synthetic import make_clip  # noqa: E402
from tests.conftest import PHOTOS  # noqa: E402
from tests.reliability.conftest import readonly  # noqa: E402, F401 - the read-only folder fixture

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "golden" / "tiny_w025.pth"  # width 0.25
FRAMES, FPS, SIZE = 24, 24, (64, 48)


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """1 s, 24 frames at 24 fps, 64x48, AAC sine tone."""
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", PHOTOS[0], SIZE, FRAMES, FPS)


@pytest.fixture(scope="session")
def rotated_clip(tmp_path_factory) -> Path:
    """12 frames stored landscape with a 90-degree display rotation (a phone video)."""
    return make_clip(tmp_path_factory.mktemp("rot") / "phone.mov", PHOTOS[1], SIZE, 12, FPS, rotation=90)


@pytest.fixture()
def model() -> Path:
    return MODEL


@pytest.fixture()
def cli(capsys):
    """In-process ``styleport ARGS`` -> (exit code, stdout, stderr). Restores torch's thread count."""
    from styleport.cli import main

    threads = torch.get_num_threads()

    def call(*args) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in args])
        finally:
            torch.set_num_threads(threads)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


def decode(path: Path) -> dict:
    """What a player sees: frames (RGB arrays), rate, duration, rotation, audio packets' bytes."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        out = {
            "frames": [f.to_ndarray(format="rgb24") for f in frames],
            "pts": [f.pts for f in frames],
            "rate": v.average_rate,
            "duration": float(v.duration * v.time_base) if v.duration else c.duration / 1e6,
            "rotation": frames[0].rotation if frames else 0,
            "codec": v.codec_context.name,
            "pix_fmt": v.codec_context.pix_fmt,
        }
    with av.open(str(path)) as c:
        out["audio"] = [bytes(p) for p in c.demux(audio=0) if p.size] if c.streams.audio else []
    return out


def leftovers(folder: Path) -> list[str]:
    """Temp folders or files a run left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".styleport-tmp"))


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def errors(err: str) -> int:
    """Error lines (a progress bar may come before the one line)."""
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("styleport:")]
    assert lines and err.rstrip().endswith(lines[-1]), err
    return len(lines)


def broken_files(folder, clip) -> dict:
    """name -> the words its one-line error must contain."""
    data = clip.read_bytes()
    (folder / "junk.mp4").write_bytes(b"\x00\x01 not a video " * 500)
    (folder / "cut.mp4").write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: gone
    with av.open(str(folder / "tone.m4a"), "w") as out:  # audio only
        stream = out.add_stream("aac", rate=44100)
        stream.layout = "mono"
        for k in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, k * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return {"junk.mp4": "not a readable video", "cut.mp4": "not a readable video", "tone.m4a": "has no video stream"}


def unknown_codec_file(folder, clip) -> tuple:
    """A Matroska file whose video codec id FFmpeg does not know (same length, so the file stays valid)."""
    mkv = make_clip(folder / "ok.mkv", PHOTOS[0], SIZE, 6, FPS)
    data = mkv.read_bytes()
    assert data.count(b"V_MPEG4/ISO/AVC") == 1
    (folder / "alien.mkv").write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_STYLEPORT_XYZ"))
    return folder / "alien.mkv", "video codec is unknown"
