from __future__ import annotations

import json

import torch
from PIL import Image

from styleport.train import monitor


def _row(step, total):
    return {"step": step, "seconds": step * 0.5, "total": total, "content": total / 3, "style": total / 2000,
            "tv": 0.0, "images_per_s": 8.0, "lr": 1e-3, "skipped_files": 0}  # fmt: skip


def test_log_rows_written_and_truncated_on_resume(tmp_path):
    log = monitor.TrainLog(tmp_path, 0)
    for step in (10, 20, 30):
        log.append(_row(step, 100.0 / step))
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [10, 20, 30]
    assert (tmp_path / "log.csv").read_text().splitlines()[0].startswith("step,seconds,total")
    resumed = monitor.TrainLog(tmp_path, 20)  # a crash after step 30's row but before its checkpoint
    assert [r["step"] for r in resumed.rows] == [10, 20]
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 3


def test_loss_plot_draws_each_curve(tmp_path):
    rows = [_row(s, 1e4 / s) for s in range(10, 200, 10)]
    monitor.plot_losses(rows, {"content": 1.0, "style": 1e3, "tv": 0.0}, tmp_path / "loss.png")
    img = Image.open(tmp_path / "loss.png").convert("RGB")
    colors = {img.getpixel((x, y)) for x in range(img.width) for y in range(img.height)}
    for key in ("total", "content", "style"):
        assert monitor.CURVE_COLORS[key] in colors


def test_preview_grid_layout():
    content = torch.zeros(3, 3, 8, 8)
    styles = [torch.full((3, 3, 8, 8), 100.0), torch.full((3, 3, 8, 8), 300.0)]
    grid = monitor.preview_grid(content, styles)
    assert grid.size == (24, 24)  # 3 photos wide, photo row + 2 style rows high
    assert grid.getpixel((0, 0)) == (0, 0, 0) and grid.getpixel((20, 10)) == (100,) * 3
    assert grid.getpixel((5, 20)) == (255,) * 3  # clamped


def test_eval_rows_go_to_jsonl_only_and_are_truncated_on_resume(tmp_path):
    log = monitor.TrainLog(tmp_path, 0)
    for step in (10, 20, 30):
        log.append(_row(step, 1.0))
        log.append_eval(step, {"s": {"style": {"relu3_1": 0.5}, "content": {"relu2_2": 0.1}}})
    rows = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [(r["step"], r.get("kind")) for r in rows] == [(s, k) for s in (10, 20, 30) for k in (None, "eval")]
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 4  # header + 3 loss rows, no eval rows
    resumed = monitor.TrainLog(tmp_path, 20)
    assert [r["step"] for r in resumed.rows] == [10, 20] and [r["step"] for r in resumed.evals] == [10, 20]
