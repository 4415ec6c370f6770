"""Temporal instability ("flicker") of a stylized video, measured against its source's motion.

For each pair of consecutive frames, optical flow is computed on the *source* frames (OpenCV's
DIS flow, both directions). The previous stylized frame is warped along the backward flow onto the
current one, and the score is the mean absolute difference (0..255, averaged over RGB) between
the current stylized frame and that warp, over non-occluded pixels: those whose forward-backward
flows agree (Ruder et al. 2016's consistency test) and whose match lies inside the frame. The
same number for the source frames themselves is the floor (flow error, lighting, compression):
a perfectly stable stylization would move with the content and score near it.
"""

from __future__ import annotations

import numpy as np

from styleport.video import cv2_module


class FlickerMeter:
    """``add(source, stylized)`` frame by frame ((H,W,3) uint8 RGB, same size); ``result()`` at the end."""

    def __init__(self, preset: str = "medium") -> None:
        cv2 = cv2_module()
        presets = {
            "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
            "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
        }
        self.cv2, self.dis = cv2, cv2.DISOpticalFlow_create(presets[preset])
        self.prev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.sums = {"stylized": 0.0, "source": 0.0}
        self.pixels = self.total = self.pairs = 0
        self.per_pair: list[float] = []

    def add(self, source: np.ndarray, stylized: np.ndarray) -> None:
        cv2 = self.cv2
        gray = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY)
        if self.prev is not None:
            prev_gray, prev_src, prev_out = self.prev
            backward = self.dis.calc(gray, prev_gray, None)  # cur(x) ~ prev(x + backward(x)), (H,W,2)
            forward = self.dis.calc(prev_gray, gray, None)  # prev(y) ~ cur(y + forward(y))
            h, w = gray.shape
            grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), -1)  # (H,W,2)
            where = grid + backward  # (H,W,2): x, y in the previous frame
            mapx, mapy = where[..., 0], where[..., 1]
            back_forward = cv2.remap(forward, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            err = np.sum((backward + back_forward) ** 2, -1)
            bound = 0.01 * (np.sum(backward**2, -1) + np.sum(back_forward**2, -1)) + 0.5
            inside = (mapx >= 0) & (mapx <= w - 1) & (mapy >= 0) & (mapy <= h - 1)
            valid = inside & (err <= bound)  # (H,W) non-occluded
            n = int(valid.sum())
            for key, cur, prev in (("stylized", stylized, prev_out), ("source", source, prev_src)):
                warped = cv2.remap(prev, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                diff = np.abs(cur.astype(np.float32) - warped.astype(np.float32)).mean(-1)  # (H,W,3) -> (H,W)
                total = float(diff[valid].sum())
                self.sums[key] += total
                if key == "stylized":
                    self.per_pair.append(total / max(n, 1))
            self.pixels += n
            self.total += h * w
            self.pairs += 1
        self.prev = (gray, source, stylized)

    def result(self) -> dict:
        """{"stylized", "source", "ratio", "pairs", "valid_fraction", "per_pair"}; scores 0..255."""
        n = max(self.pixels, 1)
        stylized, source = self.sums["stylized"] / n, self.sums["source"] / n
        return {
            "stylized": stylized,
            "source": source,
            "ratio": stylized / source if source > 0 else None,
            "pairs": self.pairs,
            "valid_fraction": self.pixels / self.total if self.total else 0.0,
            "per_pair": [round(v, 4) for v in self.per_pair],
        }


def flicker(source: list[np.ndarray], stylized: list[np.ndarray]) -> dict:
    """The score of whole frame lists (the same measurement ``stylize --report`` makes)."""
    meter = FlickerMeter()
    for s, y in zip(source, stylized, strict=True):
        meter.add(s, y)
    return meter.result()
