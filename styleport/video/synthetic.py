"""A synthetic test clip: a slow pan and zoom over a photo, with a sine-tone audio track.

Made in tests and benchmarks (nothing is downloaded or committed but the photo). The camera
moves smoothly (sub-pixel crop boxes, Lanczos), so consecutive frames differ by a small known
motion, like real footage and like ``train --temporal-weight``'s synthetic pairs.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from styleport.video import av_module


def frames(photo: Image.Image, size: tuple[int, int], count: int, pan: float = 0.15, zoom: float = 0.15):
    """``count`` (H,W,3) uint8 frames: a window of the photo moving right by ``pan`` of its width
    while zooming in by ``zoom``."""
    photo = photo.convert("RGB")
    pw, ph = photo.size
    aspect = size[0] / size[1]
    base_w = min(pw * (1 - pan), ph * aspect)  # the first window, with room to pan
    for i in range(count):
        t = i / max(count - 1, 1)
        w = base_w * (1 - zoom * t)
        h = w / aspect
        x0 = (pw - base_w) / 2 - pan * pw / 2 + pan * pw * t + (base_w - w) / 2
        y0 = (ph - h) / 2
        box = (x0, y0, x0 + w, y0 + h)
        yield np.asarray(photo.resize(size, Image.Resampling.LANCZOS, box=box))


def make_clip(path: str | Path, photo: str | Path, size: tuple[int, int] = (64, 48), count: int = 24,
              fps: int = 24, audio: bool = True, codec: str = "libx264", crf: int = 12,
              rotation: int = 0, tone: float = 440.0) -> Path:  # fmt: skip
    """Write the clip to ``path`` (H.264 yuv420p, AAC mono 44.1 kHz sine) and return it."""
    av = av_module()
    path = Path(path)
    with Image.open(photo) as img:
        pictures = list(frames(img, size, count))
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=Fraction(fps))
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.options = {"crf": str(crf)} if codec == "libx264" else {}
        if rotation:
            video.set_display_rotation(rotation)
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=44100)
            sound.layout = "mono"
        for rgb in pictures:
            for packet in video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        if sound is not None:
            rate, block = 44100, 1024
            total = round(count / fps * rate)
            for start in range(0, total, block):
                n = min(block, total - start)
                t = (np.arange(n) + start) / rate
                samples = (0.3 * np.sin(2 * np.pi * tone * t)).astype(np.float32)[None]  # (1,n): mono, planar
                frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = rate, start
                for packet in sound.encode(frame):
                    out.mux(packet)
        for stream in (video, sound):
            if stream is not None:
                for packet in stream.encode():
                    out.mux(packet)
    return path
