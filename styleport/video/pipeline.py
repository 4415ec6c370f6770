"""Stylize a video: decode, stylize in batches and encode in three overlapping stages.

    reader thread:  demux + decode + scale to the output size  -> (batch of frames | audio packet)
    main thread:    the network on a (N,3,H,W) batch (torch releases the GIL while it computes)
    writer thread:  encode + mux (audio packets copied in demux order); optional flicker meter

Bounded queues between the stages keep memory flat and let decoding and encoding hide behind the
network. The output is written inside ``fileutil.atomic_output``: a failure, Ctrl-C or a kill
leaves nothing under the final name. The first error in any stage stops all three.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from pathlib import Path

import numpy as np
import torch

from styleport.errors import StyleportError
from styleport.stylize import StylizeOptions, Stylizer, check_output_pixels, keep_colors, resolve_style_weights
from styleport.video import io

QUEUE_DEPTH = 3  # batches in flight between two stages
BATCH_PIXELS = 1_000_000  # auto batch: about this many pixels per forward pass (measured: bench/video_throughput.py)


@dataclasses.dataclass(frozen=True)
class VideoOptions:
    codec: str | None = None  # default libx264 (or the container's own default)
    crf: int | None = None
    start: float = 0.0  # seconds
    duration: float | None = None  # seconds
    max_frames: int | None = None
    batch: int | None = None  # frames per forward pass (default: ~1 MP per batch, 1..8)
    report: bool = False  # measure flicker (video.flicker) while writing


@dataclasses.dataclass
class Result:
    frames: int
    size: tuple[int, int]
    seconds: float
    codec: str
    audio: str | None
    flicker: dict | None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _Stopped(Exception):
    """Another stage failed or the run was interrupted."""


class _Pipe:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self.stop.set()

    def put(self, q: queue.Queue, item) -> None:
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped

    def get(self, q: queue.Queue):
        while not self.stop.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue
        raise _Stopped

    def thread(self, target, *args) -> threading.Thread:
        def body() -> None:
            try:
                target(*args)
            except _Stopped:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                self.fail(exc)

        t = threading.Thread(target=body, daemon=True)
        t.start()
        return t


def plan_size(info: io.VideoInfo, options: StylizeOptions) -> tuple[int, int]:
    """Output (w, h): --size/--scale as for images, checked against --max-pixels, then made even."""
    w, h = check_output_pixels(info.width, info.height, options, name=str(info.path))
    return io.even_size(w, h)


def auto_batch(size: tuple[int, int], options: StylizeOptions) -> int:
    if options.tile is not None:
        return 1
    return max(1, min(8, BATCH_PIXELS // (size[0] * size[1])))


def stylize_video(stylizer: Stylizer, src: Path, tmp: Path, final: Path, options: StylizeOptions,
                  video: VideoOptions, progress=None) -> Result:  # fmt: skip
    """Stylize ``src`` into ``tmp`` (the caller's atomic_output path for ``final``)."""
    info = io.probe(src)
    size = plan_size(info, options)
    batch = video.batch or auto_batch(size, options)
    stylizer.check_memory(size[0], size[1] * batch, tiled=options.tile is not None, name=str(src))
    sw = resolve_style_weights(stylizer.model, options)
    offset = round(video.start / info.time_base) if video.start else 0
    meter = None
    if video.report:
        from styleport.video.flicker import FlickerMeter

        meter = FlickerMeter()
    pipe = _Pipe()
    decoded: queue.Queue = queue.Queue(QUEUE_DEPTH)
    styled: queue.Queue = queue.Queue(QUEUE_DEPTH)
    t0 = time.perf_counter()
    with io.open_input(src) as source:
        writer = io.Writer(tmp, final, info, source, size, video.codec, video.crf)

        def read() -> None:
            frames: list[io.Decoded] = []
            audio = lambda packet: pipe.put(decoded, ("audio", packet))  # noqa: E731
            for item in io.read(source, info, size, video.start, video.duration, video.max_frames, audio, pipe.stop):
                frames.append(item)
                if len(frames) == batch:
                    pipe.put(decoded, ("video", frames))
                    frames = []
            if frames:
                pipe.put(decoded, ("video", frames))
            pipe.put(decoded, None)

        def write() -> None:
            while (item := pipe.get(styled)) is not None:
                kind, payload = item
                if kind == "audio":
                    writer.write_audio(payload, video.start)
                    continue
                for frame, out in payload:
                    writer.write_frame(out, frame.pts, frame.duration, offset)
                    if meter is not None:
                        meter.add(frame.rgb, out)
                if progress is not None:
                    progress.update(len(payload))
            writer.close()

        threads = [pipe.thread(read), pipe.thread(write)]
        try:
            while (item := pipe.get(decoded)) is not None:
                if item[0] == "video":
                    item = ("video", list(zip(item[1], _run(stylizer, item[1], sw, options), strict=True)))
                pipe.put(styled, item)
            pipe.put(styled, None)
            threads[1].join()
        except _Stopped:
            pass
        except BaseException as exc:
            pipe.fail(exc)
        finally:
            for t in threads:
                t.join()
            if pipe.error is not None:
                writer.abort()
    if pipe.error is not None:
        if isinstance(pipe.error, (StyleportError, KeyboardInterrupt)):
            raise pipe.error
        av = io.av_module()
        if isinstance(pipe.error, av.FFmpegError):
            raise io.VideoError(f"{final}: FFmpeg failed while writing ({io._detail(pipe.error)})") from None
        raise pipe.error
    seconds = time.perf_counter() - t0
    if writer.frames == 0:
        raise io.VideoError(f"{src}: no frames in the requested span (--start {video.start:g})")
    expected = info.expected_frames()
    limited = video.start or video.duration is not None or video.max_frames is not None
    if not limited and expected and writer.frames < 0.98 * expected - 1:
        raise io.VideoError(f"{src}: truncated: decoded {writer.frames} of the {expected} frames its header declares")
    return Result(writer.frames, size, seconds, writer.codec, info.audio if writer.audio else None,
                  meter.result() if meter else None)  # fmt: skip


def _run(stylizer: Stylizer, frames: list[io.Decoded], sw, options: StylizeOptions) -> list[np.ndarray]:
    """A batch of (H,W,3) uint8 frames -> stylized (H,W,3) uint8, with the image options applied."""
    x = torch.from_numpy(np.stack([f.rgb for f in frames])).permute(0, 3, 1, 2).float()  # (N,H,W,3) -> (N,3,H,W)
    if options.tile is not None:
        y = torch.cat([stylizer.run_tensor(x[i : i + 1], sw, options.tile) for i in range(len(frames))])
    else:
        y = stylizer.run_tensor(x, None if sw is None else sw.expand(len(frames), -1))
    outs = y.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (N,3,H,W) -> (N,H,W,3)
    if not (options.keep_colors or options.strength < 1.0):
        return list(outs)
    from PIL import Image

    result = []
    for f, out in zip(frames, outs, strict=True):
        original, img = Image.fromarray(f.rgb), Image.fromarray(out)
        if options.keep_colors:
            img = keep_colors(img, original)
        if options.strength < 1.0:
            img = Image.blend(original, img, options.strength)
        result.append(np.asarray(img))
    return result
