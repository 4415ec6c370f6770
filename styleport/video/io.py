"""Video files through PyAV: what an input holds (``probe``), its frames (``read``), and the
output (``Writer``: encoded video + the input's audio packets copied unchanged).

Kept from the input: each frame's timestamp (so the frame rate, variable rates and the duration
survive), the display rotation (written as the same display matrix; pixels are stylized as
stored), and the first audio stream (remuxed, not re-encoded). Every FFmpeg failure becomes one
``VideoError`` / ``OutputError`` line naming the file.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from styleport.errors import OutputError, UsageError, VideoError
from styleport.video import av_module

DEFAULT_CODEC = "libx264"
# Constant-quality defaults; --crf overrides. x264 18 is "visually lossless" for most content.
CRF_CODECS = {"libx264": 18, "libx265": 20, "libvpx-vp9": 31, "libsvtav1": 30}
PIX_FMT = "yuv420p"  # what every player decodes; needs even width and height


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int  # as stored (before rotation)
    height: int
    codec: str
    rate: Fraction  # average frames per second
    time_base: Fraction
    start_pts: int  # first timestamp of the video stream, in time_base units
    frames: int  # as the container declares it (0: unknown)
    duration: float  # seconds (0: unknown)
    rotation: int  # display rotation, degrees counter-clockwise
    audio: str | None  # codec of the audio stream that is copied, if any

    def expected_frames(self) -> int:
        return self.frames or round(self.duration * float(self.rate))


def _detail(exc: Exception) -> str:
    """FFmpeg's own words ("Invalid data found when processing input"), without errno and path."""
    text = getattr(exc, "strerror", None) or str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_input(path: Path):
    av = av_module()
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise VideoError(
            f"{path}: not a readable video (corrupt, truncated or not a media file: {_detail(exc)})"
        ) from None
    except OSError as exc:
        raise VideoError(f"{path}: cannot open ({_detail(exc)})") from None


def probe(path: str | Path) -> VideoInfo:
    """What ``path`` holds; one VideoError line if it has no decodable video stream."""
    av = av_module()
    path = Path(path)
    with open_input(path) as container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["no streams"]
            raise VideoError(f"{path}: has no video stream (found: {', '.join(kinds)})")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        name = getattr(ctx, "name", None) if ctx is not None else None
        try:
            if not name:
                raise av.error.DecoderNotFoundError(0, "no decoder")
            av.Codec(name, "r")
        except (av.FFmpegError, ValueError):
            raise VideoError(f"{path}: the video codec is unknown to FFmpeg here (no decoder for it)") from None
        if not ctx.width or not ctx.height:
            raise VideoError(f"{path}: the video stream has no frame size (corrupt header)")
        rotation = 0
        try:
            first = next(container.decode(stream))
            rotation = int(round(first.rotation or 0)) % 360
        except StopIteration:
            raise VideoError(f"{path}: the video stream has no frames (truncated?)") from None
        except av.FFmpegError as exc:
            raise VideoError(f"{path}: corrupt video data ({_detail(exc)})") from None
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(25)
        tb = stream.time_base or Fraction(1, 90000)
        duration = float(stream.duration * tb) if stream.duration else (container.duration or 0) / 1e6
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        return VideoInfo(path, ctx.width, ctx.height, name, Fraction(rate), Fraction(tb), stream.start_time or 0,
                         int(stream.frames or 0), duration, rotation, audio)  # fmt: skip


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p stores colour at half resolution: both sides even (at least 2)."""
    return max(2, width - width % 2), max(2, height - height % 2)


@dataclasses.dataclass
class Decoded:
    rgb: np.ndarray  # (H,W,3) uint8 at the output size
    pts: int  # input timestamp, time_base units
    duration: int | None


def read(container, info: VideoInfo, size: tuple[int, int], start: float = 0.0, duration: float | None = None,
         max_frames: int | None = None, audio_sink=None, stop=None) -> Iterator[Decoded]:  # fmt: skip
    """Frames of ``container`` from ``start`` s for ``duration`` s (at most ``max_frames``), scaled to
    ``size`` (w, h) RGB. Audio packets of the same span go to ``audio_sink(packet)`` as demuxed."""
    av = av_module()
    vstream = container.streams.video[0]
    vstream.thread_type = "AUTO"
    astream = container.streams.audio[0] if (info.audio and audio_sink is not None) else None
    tb = info.time_base
    begin = info.start_pts + math.floor(start / tb) if start else None
    end = info.start_pts + math.ceil((start + duration) / tb) if duration is not None else None
    if begin is not None:
        container.seek(begin, stream=vstream, backward=True, any_frame=False)
    scale = "AREA" if size[0] * size[1] < info.width * info.height else "BICUBIC"
    count = 0
    streams = [vstream] + ([astream] if astream is not None else [])
    try:
        for packet in container.demux(*streams):
            if stop is not None and stop.is_set():
                return
            if packet.stream.type == "audio":
                if packet.dts is not None and packet.pts is not None:
                    t = float(packet.pts * packet.stream.time_base) - float(info.start_pts * tb)  # s from video start
                    if (not start or t >= start - 1e-6) and (duration is None or t < start + duration):
                        audio_sink(packet)
                continue
            for frame in packet.decode():
                if frame.pts is None or (begin is not None and frame.pts < begin):
                    continue
                if end is not None and frame.pts >= end:
                    return
                rgb = frame.to_ndarray(format="rgb24", width=size[0], height=size[1], interpolation=scale)
                yield Decoded(rgb, frame.pts, frame.duration or None)
                count += 1
                if max_frames is not None and count >= max_frames:
                    return
    except av.FFmpegError as exc:
        raise VideoError(f"{info.path}: corrupt video data after {count} frames ({_detail(exc)})") from None


def check_codec(name: str) -> str:
    av = av_module()
    try:
        codec = av.Codec(name, "w")
    except (av.FFmpegError, ValueError):
        known = ", ".join(
            c for c in ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "mpeg4") if c in av.codecs_available
        )
        raise UsageError(f"--codec {name}: no such video encoder in this FFmpeg (e.g. {known})") from None
    if codec.type != "video":
        raise UsageError(f"--codec {name}: is an {codec.type} encoder, not a video one")
    return codec.name


class Writer:
    """An output container: the stylized video stream plus the input's audio stream, copied."""

    def __init__(self, path: Path, final: Path, info: VideoInfo, source, size: tuple[int, int],
                 codec: str | None, crf: int | None) -> None:  # fmt: skip
        av = av_module()
        try:
            self.container = av.open(str(path), "w")
        except (av.FFmpegError, ValueError) as exc:
            raise UsageError(
                f"{final}: FFmpeg cannot write this kind of file ({_detail(exc)}); use .mp4, .mkv or .mov"
            ) from None
        except OSError as exc:
            raise OutputError(f"{final}: cannot write ({_detail(exc)})") from None
        out = self.container
        supported = out.supported_codecs
        if codec is None:
            codec = DEFAULT_CODEC if DEFAULT_CODEC in supported else out.default_video_codec
        if codec not in supported:
            raise UsageError(f"--codec {codec}: a {final.suffix} file cannot hold it (try .mkv, or another --codec)")
        if crf is not None and codec not in CRF_CODECS:
            raise UsageError(f"--crf applies to {', '.join(CRF_CODECS)}, not {codec}")
        self.stream = out.add_stream(codec, rate=info.rate)
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = PIX_FMT
        self.stream.time_base = info.time_base
        self.stream.codec_context.time_base = info.time_base
        options = {}
        if codec in CRF_CODECS:
            options["crf"] = str(CRF_CODECS[codec] if crf is None else crf)
            if codec == "libvpx-vp9":
                options["b"] = "0"  # constant quality
        self.stream.options = options
        if info.rotation:
            self.stream.set_display_rotation(info.rotation)
        self.codec = codec
        self.audio = None
        if info.audio is not None:
            if info.audio not in supported:
                raise UsageError(
                    f"{final}: a {final.suffix} file cannot hold the input's {info.audio} audio copied unchanged; "
                    "use .mkv (holds any codec) or .mp4/.mov"
                )
            self.audio = out.add_stream_from_template(source.streams.audio[0])
        self.info, self.frames = info, 0

    def write_frame(self, rgb: np.ndarray, pts: int, duration: int | None, offset: int) -> None:
        av = av_module()
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = pts - offset, self.info.time_base
        if duration:
            frame.duration = duration
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def write_audio(self, packet, offset_s: float) -> None:
        if self.audio is None:
            return
        if offset_s:
            shift = round(offset_s / packet.stream.time_base)
            packet.pts -= shift
            packet.dts -= shift
        packet.stream = self.audio
        self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()

    def abort(self) -> None:
        """After a failure: release the file (the caller's atomic_output deletes it)."""
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - already failing; the first error is the one reported
            pass
