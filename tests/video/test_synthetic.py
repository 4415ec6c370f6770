"""styleport.video.synthetic: the test clip moves a little from frame to frame, and a lot overall."""

from __future__ import annotations

from PIL import Image

from styleport.video.synthetic import frames
from tests.conftest import PHOTOS
from tests.video.conftest import mean_abs


def test_pan_and_zoom_is_slow_and_steady():
    with Image.open(PHOTOS[0]) as img:
        clip = list(frames(img, (64, 48), 12))
    assert all(f.shape == (48, 64, 3) for f in clip)
    steps = [mean_abs(a, b) for a, b in zip(clip[:-1], clip[1:], strict=True)]
    assert min(steps) > 0.5  # it moves every frame
    assert mean_abs(clip[0], clip[-1]) > max(steps)  # ... and gets somewhere
