"""``styleport stylize MODEL clip.mp4 -o out.mp4``: what is kept, what is refused, what is never left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from styleport.fileutil import KILL_HOOK_ENV
from tests.video.conftest import (
    FPS,
    FRAMES,
    SIZE,
    broken_files,
    decode,
    errors,
    leftovers,
    mean_abs,
    unknown_codec_file,
)


def test_video_keeps_frames_rate_duration_audio_and_rotation(tmp_path, clip, rotated_clip, model, cli):
    out = tmp_path / "out.mp4"
    code, stdout, err = cli("stylize", model, clip, "-o", out, "--report", tmp_path / "r.json")
    assert code == 0, err
    assert f"wrote {out} (64x48, {FRAMES} frames" in stdout and "aac audio copied" in stdout
    src, got = decode(clip), decode(out)
    assert len(got["frames"]) == FRAMES and got["rate"] == FPS and got["pts"] == src["pts"]
    assert got["duration"] == pytest.approx(src["duration"], abs=1e-3)
    assert got["codec"] == "h264" and got["pix_fmt"] == "yuv420p"
    assert got["audio"] == src["audio"] and len(src["audio"]) > 20  # the same packets: copied, not re-encoded
    assert mean_abs(got["frames"][5], src["frames"][5]) > 10  # stylized, not a copy
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["frames"] == FRAMES and report["flicker"]["pairs"] == FRAMES - 1
    assert report["flicker"]["source"] > 0 and report["frames_per_s"] > 0

    code, _, err = cli("stylize", model, rotated_clip, "-o", tmp_path / "phone.mov")
    assert code == 0, err
    phone = decode(tmp_path / "phone.mov")
    assert phone["rotation"] == 90 and phone["frames"][0].shape == (SIZE[1], SIZE[0], 3)
    assert leftovers(tmp_path) == []


def test_span_size_and_codec_options(tmp_path, clip, model, cli):
    code, _, err = cli("stylize", model, clip, "-o", tmp_path / "a.mp4", "--start", "0.25", "--duration", "0.5")
    assert code == 0, err
    part = decode(tmp_path / "a.mp4")
    assert len(part["frames"]) == 12 and part["duration"] == pytest.approx(0.5, abs=0.05)
    assert part["pts"][0] == 0
    code, _, err = cli("stylize", model, clip, "-o", tmp_path / "b.mkv", "--max-frames", "5", "--size", "33",
                       "--codec", "libx265", "--crf", "30", "--batch", "2")  # fmt: skip
    assert code == 0, err
    small = decode(tmp_path / "b.mkv")
    assert len(small["frames"]) == 5 and small["frames"][0].shape == (24, 32, 3)  # 33x25 made even
    assert small["codec"] == "hevc"


def test_bad_inputs_and_outputs_are_one_line_and_leave_nothing(tmp_path, clip, model, cli, readonly):
    cases = {tmp_path / name: words for name, words in broken_files(tmp_path, clip).items()}
    alien, words = unknown_codec_file(tmp_path, clip)
    cases[alien] = words
    data = (tmp_path / "ok.mkv").read_bytes()
    (tmp_path / "short.mkv").write_bytes(data[: len(data) * 2 // 3])  # header intact, frames missing
    cases[tmp_path / "short.mkv"] = "truncated: decoded"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for src, words in cases.items():
        code, stdout, err = cli("stylize", model, src, "-o", out_dir / "x.mp4")
        assert code == 1 and words in err and errors(err) == 1, (src.name, err)
        assert list(out_dir.iterdir()) == [], src.name
    code, _, err = cli("stylize", model, clip, "-o", out_dir / "x.mp4", "--codec", "nonsense264")
    assert code == 2 and "no such video encoder" in err
    code, _, err = cli("stylize", model, clip, "-o", readonly / "x.mp4")
    assert code == 1 and "cannot write" in err and errors(err) == 1
    assert [p.name for p in readonly.iterdir()] == ["existing.txt"]
    code, _, err = cli("stylize", model, clip, "-o", out_dir / "x.png")
    assert code == 2 and "video file name" in err
    code, _, err = cli("stylize", model, clip, "-o", out_dir / "x.mp4", "--start", "5")
    assert code == 2 and "only 1.00 s long" in err
    code, _, err = cli("stylize", model, clip, "-o", out_dir / "x.webm")
    assert code == 2 and "cannot hold the input's aac audio" in err
    code, _, err = cli("stylize", model, clip, clip.with_name("other.jpg"), "-o", out_dir)
    assert code != 0
    assert list(out_dir.iterdir()) == []


def test_video_flags_are_refused_for_images(tmp_path, model, cli):
    from tests.conftest import PHOTOS

    code, _, err = cli("stylize", model, PHOTOS[0], "-o", tmp_path / "x.jpg", "--crf", "20")
    assert code == 2 and "--crf: only for a video input" in err


def test_killed_run_leaves_nothing_under_the_final_name(tmp_path, clip, model):
    env = {**os.environ, "OMP_NUM_THREADS": "1", KILL_HOOK_ENV: "1"}
    args = [sys.executable, "-m", "styleport", "stylize", str(model), str(clip), "-o", str(tmp_path / "x.mp4")]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not (tmp_path / "x.mp4").exists()
    env.pop(KILL_HOOK_ENV)
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "x.mp4").is_file() and leftovers(tmp_path) == []  # the rerun removed the dead run's temp
