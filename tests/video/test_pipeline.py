"""styleport.video.pipeline: batching changes nothing, and a failing stage stops the others."""

from __future__ import annotations

from tests.video.conftest import decode, errors, leftovers, mean_abs


def test_batches_give_the_frames_of_single_frame_runs(tmp_path, clip, model, cli):
    for batch in ("1", "8"):
        code, _, err = cli("stylize", model, clip, "-o", tmp_path / f"b{batch}.mkv", "--batch", batch, "--crf", "0")
        assert code == 0, err
    one, eight = decode(tmp_path / "b1.mkv"), decode(tmp_path / "b8.mkv")
    assert max(mean_abs(a, b) for a, b in zip(one["frames"], eight["frames"], strict=True)) < 0.5


def test_a_failure_mid_video_leaves_nothing(tmp_path, clip, model, monkeypatch, cli):
    from styleport.video import io

    real, calls = io.Writer.write_frame, []

    def failing(self, *args):
        calls.append(1)
        if len(calls) == 10:
            raise OSError(28, "No space left on device")
        return real(self, *args)

    monkeypatch.setattr(io.Writer, "write_frame", failing)
    code, _, err = cli("stylize", model, clip, "-o", tmp_path / "x.mp4")
    assert code == 1 and "x.mp4: cannot write (No space left on device)" in err and errors(err) == 1
    assert len(calls) == 10  # the pipeline stopped at the failure
    assert not (tmp_path / "x.mp4").exists() and leftovers(tmp_path) == []
