"""styleport.video.io: what probing finds in good and broken files."""

from __future__ import annotations

import pytest

from styleport.errors import UsageError, VideoError
from styleport.video import io, is_video
from tests.video.conftest import FPS, FRAMES, SIZE, broken_files, unknown_codec_file


def test_probe_reads_size_rate_frames_duration_audio_and_rotation(clip, rotated_clip):
    info = io.probe(clip)
    assert (info.width, info.height) == SIZE
    assert info.rate == FPS and info.frames == FRAMES and info.expected_frames() == FRAMES
    assert info.duration == pytest.approx(FRAMES / FPS, abs=1e-3)
    assert info.codec == "h264" and info.audio == "aac" and info.rotation == 0
    assert io.probe(rotated_clip).rotation == 90


def test_broken_inputs_are_one_line_video_errors(tmp_path, clip):
    cases = broken_files(tmp_path, clip)
    path, words = unknown_codec_file(tmp_path, clip)
    cases[path.name] = words
    for name, words in cases.items():
        with pytest.raises(VideoError, match=words) as err:
            io.probe(tmp_path / name)
        assert "\n" not in str(err.value) and name in str(err.value)


def test_is_video_decides_by_content(tmp_path, clip):
    renamed = tmp_path / "clip.bin"
    renamed.write_bytes(clip.read_bytes())
    photo = tmp_path / "photo.mp4"  # an image, whatever its name says
    from PIL import Image

    Image.new("RGB", (8, 8)).save(photo, format="PNG")
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert is_video(clip) and is_video(renamed)
    assert not is_video(photo) and not is_video(text)
    assert is_video(tmp_path / "missing.mp4") is False


def test_unknown_encoder_is_a_usage_error():
    assert io.check_codec("libx264") == "libx264"
    with pytest.raises(UsageError, match="no such video encoder"):
        io.check_codec("nonsense264")
    with pytest.raises(UsageError, match="audio encoder"):
        io.check_codec("aac")
    assert io.even_size(33, 25) == (32, 24) and io.even_size(1, 1) == (2, 2)
