"""Watching a run: progress bar, CSV + JSONL log, loss-curve PNG, preview grids, optional TensorBoard.

Everything is written by rank 0 only, atomically, into the run directory::

    run_dir/log.csv  log.jsonl  loss.png  previews/step_000100.png  (tensorboard/)

On resume, log rows after the resumed step (written before a crash) are dropped so the log
describes exactly the training that produced the weights.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from styleport.errors import require
from styleport.fileutil import atomic_output, atomic_write_bytes

FIELDS = ("step", "seconds", "total", "content", "style", "tv", "images_per_s", "lr", "skipped_files", "temporal")
CURVE_COLORS = {
    "total": (20, 20, 20),
    "content": (31, 119, 180),
    "style": (214, 39, 40),
    "tv": (44, 160, 44),
    "temporal": (148, 103, 189),
}


class TrainLog:
    """Append-only metrics log kept in memory and mirrored to CSV and JSONL after each append."""

    def __init__(self, run_dir: Path, start_step: int) -> None:
        self.csv_path, self.jsonl_path = run_dir / "log.csv", run_dir / "log.jsonl"
        self.rows: list[dict] = []
        self.evals: list[dict] = []  # {"step", "kind": "eval", "styles": {...}} rows (--eval-every)
        if start_step > 0 and self.jsonl_path.is_file():
            for line in self.jsonl_path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a crash
                if row.get("step", math.inf) <= start_step:
                    (self.evals if row.get("kind") == "eval" else self.rows).append(row)
        self._flush()

    def append(self, row: dict) -> None:
        self.rows.append({k: row.get(k, 0.0) if k == "temporal" else row[k] for k in FIELDS})  # temporal: newer
        self._flush()

    def append_eval(self, step: int, styles: dict) -> None:
        """Quality numbers (styleport.evaluate.evaluate_network) at ``step``: log.jsonl only."""
        self.evals.append({"step": step, "kind": "eval", "styles": styles})
        self._flush()

    def _flush(self) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_bytes(self.csv_path, text.getvalue().encode())
        merged = sorted(self.rows + self.evals, key=lambda r: (r["step"], r.get("kind") == "eval"))  # stable
        atomic_write_bytes(self.jsonl_path, "".join(json.dumps(r) + "\n" for r in merged).encode())


def _nice_ticks(lo: float, hi: float) -> list[int]:
    return list(range(math.floor(lo), math.ceil(hi) + 1))


def plot_losses(rows: list[dict], weights: dict[str, float], path: Path, size: tuple[int, int] = (720, 420)) -> None:
    """Weighted loss components vs step, log10 y axis, drawn with PIL (no matplotlib needed)."""
    width, height = size
    left, right, top, bottom = 60, 110, 20, 40
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    series = {}
    for key in CURVE_COLORS:
        scale = 1.0 if key == "total" else weights.get(key, 1.0)
        values = [(r["step"], float(r.get(key) or 0.0)) for r in rows]  # "temporal": absent in older logs
        pts = [(s, v * scale) for s, v in values if v * scale > 0 and math.isfinite(v)]
        if pts:
            series[key] = [(s, math.log10(v)) for s, v in pts]
    all_pts = [p for pts in series.values() for p in pts]
    if all_pts:
        s_lo, s_hi = min(p[0] for p in all_pts), max(p[0] for p in all_pts)
        v_lo, v_hi = min(p[1] for p in all_pts), max(p[1] for p in all_pts)
        v_lo, v_hi = math.floor(v_lo), max(math.ceil(v_hi), math.floor(v_lo) + 1)
        s_hi = s_hi if s_hi > s_lo else s_lo + 1

        def xy(s: float, v: float) -> tuple[float, float]:
            x = left + (s - s_lo) / (s_hi - s_lo) * (width - left - right)
            y = top + (v_hi - v) / (v_hi - v_lo) * (height - top - bottom)
            return x, y

        for tick in _nice_ticks(v_lo, v_hi):
            _, y = xy(s_lo, tick)
            draw.line([(left, y), (width - right, y)], fill=(225, 225, 225))
            draw.text((4, y - 6), f"1e{tick}", fill="black")
        for key, pts in series.items():
            coords = [xy(s, v) for s, v in pts]
            if len(coords) == 1:
                coords = coords * 2
            draw.line(coords, fill=CURVE_COLORS[key], width=2)
        draw.text((left, height - bottom + 8), f"step {s_lo}", fill="black")
        draw.text((width - right - 70, height - bottom + 8), f"step {s_hi}", fill="black")
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for i, (key, color) in enumerate(CURVE_COLORS.items()):
        y = top + 10 + 18 * i
        draw.line([(width - right + 8, y + 6), (width - right + 28, y + 6)], fill=color, width=3)
        draw.text((width - right + 34, y), key if key == "total" else f"{key}*w", fill="black")
    save_png(img, path)


def save_png(img: Image.Image, path: Path) -> None:
    with atomic_output(path) as tmp:
        img.save(tmp, format="PNG")


def preview_grid(content: torch.Tensor, stylized: list[torch.Tensor]) -> Image.Image:
    """content (N,3,S,S) and one (N,3,S,S) per style, 0..255 -> a grid: photos on top, a row per style."""
    rows = torch.stack([content, *stylized])  # (R,N,3,S,S), R = 1 + styles
    r, n, _, s, _ = rows.shape
    grid = rows.permute(0, 3, 1, 4, 2).reshape(r * s, n * s, 3)  # (R,N,3,S,S) -> (R*S, N*S, 3)
    return Image.fromarray(grid.clamp(0, 255).round().to(torch.uint8).numpy())


class Progress:
    """A tqdm bar on a terminal; plain log lines every ``every`` steps otherwise (CI logs, tests)."""

    def __init__(self, start: int, total: int, every: int, enabled: bool = True) -> None:
        self.total, self.every, self.enabled = total, every, enabled
        self.tty = enabled and sys.stderr.isatty()
        self.t0, self.start = time.perf_counter(), start
        self.bar = None
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)

    def update(self, step: int, parts: dict[str, float], images_per_s: float) -> None:
        if not self.enabled:
            return
        text = f"loss {parts['total']:.4g} (c {parts['content']:.3g} s {parts['style']:.3g}) {images_per_s:.2f} img/s"
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(step - self.bar.n)
        elif step % self.every == 0 or step == self.total:
            elapsed = time.perf_counter() - self.t0
            eta = elapsed / max(step - self.start, 1) * (self.total - step)
            print(f"step {step}/{self.total}  {text}  eta {eta:.0f}s", file=sys.stderr, flush=True)

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class TensorBoard:
    """Scalars and preview images to ``run_dir/tensorboard`` (needs the ``tensorboard`` package)."""

    def __init__(self, run_dir: Path) -> None:
        require("tensorboard", "tensorboard", "--tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def scalars(self, step: int, row: dict) -> None:
        for key in ("total", "content", "style", "tv", "images_per_s"):
            self.writer.add_scalar(f"train/{key}", row[key], step)

    def image(self, step: int, img: Image.Image) -> None:
        t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(img.height, img.width, 3)
        self.writer.add_image("preview", t.permute(2, 0, 1), step)  # (H,W,3) -> (3,H,W)

    def close(self) -> None:
        self.writer.close()
