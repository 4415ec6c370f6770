"""Video: ``styleport stylize MODEL clip.mp4 -o out.mp4`` and the flicker score.

- ``video.io``: probing, decoding and encoding through PyAV (FFmpeg inside the wheel); the
  audio stream is copied packet for packet, frame timestamps, rate and rotation are kept.
- ``video.pipeline``: decode, stylize in batches and encode in overlapping threads.
- ``video.flicker``: temporal instability measured with optical flow (OpenCV's DIS).
- ``video.synthetic``: a pan-and-zoom clip over a photo with a sine tone (tests, benchmarks).
- ``video.command``: the stylize options that only apply to videos.

PyAV and OpenCV are the optional extra ``styleport[video]``, imported only when a video is used.
"""

from __future__ import annotations

import os
from pathlib import Path

from styleport.errors import require

# Names that are videos even when the file cannot be opened (a corrupt .mp4 is a bad *video*).
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".flv", ".wmv", ".ogv"}
)


def av_module():
    """PyAV, or one line saying to install the extra."""
    return require("av", "video", "video input and output")


def cv2_module():
    return require("cv2", "video", "the flicker score (optical flow)")


def is_video(path: str | os.PathLike) -> bool:
    """Decide by content, not only by name: a file Pillow reads is an image (animated GIFs too);
    anything else FFmpeg opens with an audio or video stream is a video input (``io.probe`` then
    says if it has no video); a video file name is a video even when it cannot be opened."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        return False
    try:
        with Image.open(path):
            return False  # an image
    except Image.DecompressionBombError:
        return False  # an image above Pillow's own limit: images.load_image applies styleport's (--max-pixels)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        pass
    from styleport.images import IMAGE_EXTENSIONS

    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return False  # a broken photo is a bad image (FFmpeg would open some as one-frame videos)
    by_name = path.suffix.lower() in VIDEO_EXTENSIONS
    try:
        import av
    except ImportError:
        if by_name:
            av_module()  # raises MissingDependencyError naming styleport[video]
        return False
    if by_name:
        return True
    try:
        with av.open(str(path)) as container:
            still = container.format.name == "image2" or container.format.name.endswith("_pipe")  # image demuxers
            return not still and any(s.type in ("video", "audio") for s in container.streams)
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        return False
