"""Parity reports: report.json (every number), report.md (the table) and report.html (the table plus,
per artifact, reference / output / amplified difference side by side as sibling PNGs in images/).

Every file is written atomically; the PNGs first, so the HTML never points at a missing picture.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import platform
import re
from pathlib import Path

from styleport import __version__
from styleport.fileutil import atomic_write_bytes, output_error
from styleport.metrics import format_psnr
from styleport.parity.heatmap import GAIN, difference_map, png_bytes
from styleport.parity.run import ArtifactResult, ParityRun

COLUMNS = (
    "artifact",
    "status",
    "max abs",
    "mean abs",
    "PSNR (min)",
    "SSIM (min)",
    "vs emulated: PSNR / max abs",
    "latency median / p90",
    "size",
    "ran on",
)


def _num(x: float | None) -> float | str | None:
    """JSON has no inf/nan: write them as strings."""
    if x is None:
        return None
    return x if math.isfinite(x) else str(x)


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1024:.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MB"


def _latency(r: ArtifactResult) -> str:
    return f"{r.latency.median_ms:.1f} / {r.latency.p90_ms:.1f} ms" if r.latency else "-"


def row(r: ArtifactResult) -> tuple[str, ...]:
    status = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIPPED"}[r.status]
    if r.status == "skipped" or not r.cases:
        note = r.reason
        return (r.name, status, "-", "-", "-", "-", "-", "-", human_size(r.size_bytes), note)
    return (
        r.name,
        status,
        f"{r.max_abs:.3g}",
        f"{r.mean_abs:.3g}",
        format_psnr(r.psnr),
        f"{r.ssim:.4f}",
        _emulated(r),
        _latency(r),
        human_size(r.size_bytes),
        r.label,
    )


def _emulated(r: ArtifactResult) -> str:
    """The worst case against the quantization-emulated reference ("-": the artifact has no such condition)."""
    if r.emulation is None or not r.cases:
        return "-"
    return f"{format_psnr(r.emulated_psnr)} / {r.emulated_max_abs:.3g}"


def tolerance_text(r: ArtifactResult) -> str:
    t = r.tolerance
    if t is None:
        return "-"
    text = f"PSNR >= {t.min_psnr:g} dB" + (f", max abs <= {t.max_abs:g}" if t.max_abs is not None else "")
    if r.emulation is not None:
        e = r.emulation.tolerance
        text += f"; vs {r.emulation.scheme} emulation PSNR >= {e.min_psnr:g} dB" + (
            f", max abs <= {e.max_abs:g}" if e.max_abs is not None else ""
        )
    return text


def to_json(run: ParityRun) -> dict:
    def result(r: ArtifactResult) -> dict:
        return {
            "format": r.format,
            "precision": r.precision.value,
            "runtime": r.runtime,
            "status": r.status,
            "reason": r.reason,
            "ran_on": r.label,
            "run_info": dataclasses.asdict(r.info) if r.info else None,
            "path": str(r.path) if r.path else None,
            "origin": r.origin,
            "size_bytes": r.size_bytes,
            "tolerance": {
                "min_psnr": r.tolerance.min_psnr,
                "max_abs": r.tolerance.max_abs,
                "reason": r.tolerance.reason,
                "dark_frame": r.tolerance.dark_frame,
            }
            if r.tolerance
            else None,
            "emulation": {
                "scheme": r.emulation.scheme,
                "min_psnr": r.emulation.tolerance.min_psnr,
                "max_abs": r.emulation.tolerance.max_abs,
                "reason": r.emulation.tolerance.reason,
                "psnr_min": _num(r.emulated_psnr) if r.cases else None,
                "max_abs_worst": _num(r.emulated_max_abs) if r.cases else None,
            }
            if r.emulation
            else None,
            "max_abs": _num(r.max_abs) if r.cases else None,
            "mean_abs": _num(r.mean_abs) if r.cases else None,
            "psnr_min": _num(r.psnr) if r.cases else None,
            "ssim_min": _num(r.ssim) if r.cases else None,
            "latency": dataclasses.asdict(r.latency) if r.latency else None,
            "cases": [
                {
                    "image": c.image,
                    "height": c.size[0],
                    "width": c.size[1],
                    "style": c.style,
                    "passed": c.passed,
                    "float_held": c.float_held,
                    "error": c.error,
                    **({k: _num(v) for k, v in dataclasses.asdict(c.diff).items()} if c.diff else {}),
                    **(
                        {"emulated": {k: _num(v) for k, v in dataclasses.asdict(c.emulated).items()}}
                        if c.emulated
                        else {}
                    ),
                }
                for c in r.cases
            ],
        }

    cfg = run.config
    return {
        "styleport": __version__,
        "model": str(run.model),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpu": platform.processor()},
        "reference": {
            "label": run.reference.label,
            "device": run.reference.device,
            "latency": dataclasses.asdict(run.reference.latency),
        },
        "sizes": [list(s) for s in cfg.sizes],
        "images": [str(p) for p in run.images],
        "runs": cfg.runs,
        "passed": run.passed,  # false when anything failed, and when nothing could be verified
        "verified": run.verified,
        "counts": {s: sum(r.status == s for r in run.results) for s in ("passed", "failed", "skipped")},
        "results": [result(r) for r in run.results],
    }


def _md(text: str) -> str:
    """Text from file names or errors, safe in Markdown rendered as HTML (no tags, no table breaks)."""
    return html.escape(str(text), quote=False).replace("|", "\\|")


def to_markdown(run: ParityRun) -> str:
    ref = run.reference
    sizes = ", ".join(f"{h}x{w}" for h, w in run.config.sizes)
    lines = [
        f"# styleport parity: {_md(run.model.name)}",
        "",
        f"Reference: **{_md(ref.label)}**, {ref.latency.median_ms:.1f} ms median at "
        f"{ref.latency.size[0]}x{ref.latency.size[1]}. Photos: {_md(', '.join(p.name for p in run.images))} at {sizes} (HxW). "
        f"Latency: 1 warm-up, then median / p90 of {run.config.runs} runs at the first size.",
        "",
        "| " + " | ".join(COLUMNS) + " | tolerance |",
        "|" + "---|" * (len(COLUMNS) + 1),
    ]
    for r in run.results:
        cells = [_md(c) for c in (*row(r), tolerance_text(r))]
        lines.append("| " + " | ".join(cells) + " |")
    counts = {s: sum(r.status == s for r in run.results) for s in ("passed", "failed", "skipped")}
    lines += ["", f"**{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped.**"]
    if not run.verified:
        lines.append("**Nothing was verified: every artifact was skipped. This is not a pass.**")
    for r in run.failed:
        lines.append(f"- FAILED {_md(r.failure_text())}")
    for r in run.results:
        if r.status == "skipped":
            lines.append(f"- SKIPPED {_md(r.name)}: {_md(r.reason)}")
    return "\n".join(lines) + "\n"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def write_images(run: ParityRun, folder: Path) -> dict[str, tuple[str, str, str]]:
    """Reference / output / difference PNGs of each artifact's worst case -> {name: relative paths}."""
    pictures: dict[str, tuple[str, str, str]] = {}
    written: set[str] = set()
    for r in run.results:
        if r.sample is None:
            continue
        ref_name = f"images/reference_{_slug(r.sample.key)}.png"
        if ref_name not in written:
            atomic_write_bytes(folder / ref_name, png_bytes(r.sample.reference))
            written.add(ref_name)
        stem = f"images/{_slug(r.format)}_{r.precision.value}"
        atomic_write_bytes(folder / f"{stem}_output.png", png_bytes(r.sample.output))
        atomic_write_bytes(folder / f"{stem}_diff.png", png_bytes(difference_map(r.sample.reference, r.sample.output)))
        pictures[r.name] = (ref_name, f"{stem}_output.png", f"{stem}_diff.png")
    return pictures


def to_html(run: ParityRun, pictures: dict[str, tuple[str, str, str]]) -> str:
    e = html.escape
    ref = run.reference
    head = "".join(f"<th>{e(c)}</th>" for c in (*COLUMNS, "tolerance"))
    body = []
    for r in run.results:
        cls = {"passed": "pass", "failed": "fail", "skipped": "skip"}[r.status]
        cells = "".join(f"<td>{e(c)}</td>" for c in (*row(r), tolerance_text(r)))
        body.append(f'<tr class="{cls}">{cells}</tr>')
    panels = []
    for r in run.results:
        if r.name not in pictures:
            continue
        a, b, c = pictures[r.name]
        caption = (
            f"{r.name} ({r.status}), worst case {r.sample.key}: PSNR {format_psnr(r.psnr)}, max abs {r.max_abs:.3g}"
        )
        if r.emulation is not None:
            caption += f"; vs emulated: {_emulated(r)}"
        panels.append(
            f"<section><h3>{e(caption)}</h3><div class='trio'>"
            f"<figure><img src='{a}' alt='reference'><figcaption>reference ({e(ref.label)})</figcaption></figure>"
            f"<figure><img src='{b}' alt='output'><figcaption>{e(r.label)}</figcaption></figure>"
            f"<figure><img src='{c}' alt='difference'><figcaption>|difference| x{GAIN:g}</figcaption></figure>"
            "</div></section>"
        )
    verdict = (
        f"FAILED ({len(run.failed)})"
        if run.failed
        else ("PASSED" if run.verified else "NOTHING VERIFIED (all skipped)")
    )
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;font-size:90%}tr.pass td:nth-child(2){color:#070}"
        "tr.fail td:nth-child(2){color:#b00;font-weight:bold}tr.skip td{color:#777}"
        ".trio{display:flex;gap:8px}figure{margin:0}img{max-width:320px;image-rendering:pixelated}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>styleport parity: {e(run.model.name)}</title><style>{style}</style></head><body>"
        f"<h1>styleport parity: {e(run.model.name)} &mdash; {verdict}</h1>"
        f"<p>Reference: <b>{e(ref.label)}</b>, {ref.latency.median_ms:.1f} ms median at "
        f"{ref.latency.size[0]}x{ref.latency.size[1]}. Heat maps: black = identical, white = |difference| &gt;= "
        f"{255 / GAIN:.1f} levels.</p>"
        f"<table><tr>{head}</tr>{''.join(body)}</table>{''.join(panels)}</body></html>\n"
    )


def write(run: ParityRun, folder: Path) -> list[Path]:
    """Write report.json, report.md, report.html (+ images/) into ``folder``; returns the three paths."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(folder, exc) from None
    pictures = write_images(run, folder)
    out = []
    for name, text in (
        ("report.json", json.dumps(to_json(run), indent=2) + "\n"),
        ("report.md", to_markdown(run)),
        ("report.html", to_html(run, pictures)),
    ):
        atomic_write_bytes(folder / name, text.encode("utf-8"))
        out.append(folder / name)
    return out
