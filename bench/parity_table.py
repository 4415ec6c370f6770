"""The README's "Parity of the bundled styles" table, from parity reports (never assembled by hand).

    styleport demo                       # or: styleport parity MODEL.pth --report DIR, per model
    python bench/parity_table.py styleport-demo/parity/*/report.json

One row per (format, precision, variant) over every report given: the worst PSNR and the largest
max abs over all models, images and sizes; the median over models of each model's median latency
at the first size in the reports; the file size (largest over models); what ran it; the tolerance
row. A row whose artifact failed in any report is printed as FAILED with the model's name, and the
script exits 1, so a stale or failing table cannot be pasted in silence. Skipped artifacts are
listed under the table with their reasons.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path


def _float(value) -> float:
    """report.json writes inf/nan as strings."""
    return float(value) if value is not None else math.nan


def _size(n: int) -> str:
    return f"{n / 1024:.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MB"


def _tolerance(t: dict | None) -> str:
    if not t:
        return "-"
    return f">= {t['min_psnr']:g} dB" + (f", max abs <= {t['max_abs']:g}" if t.get("max_abs") is not None else "")


def _short(label: str) -> str:
    """'numpy MIL interpreter (styleport.runtimes.mil) on Linux, ...' -> 'numpy MIL interpreter'."""
    head = " / ".join(label.split(" / ")[:2])
    return head.split(" (")[0].strip()


def _key(r: dict) -> tuple[str, str, str]:
    return (r["format"], r["precision"], r.get("variant") or "")


def table(reports: list[dict]) -> tuple[list[str], list[str], bool]:
    """-> (markdown lines, notes on skips/failures, any failed)."""
    rows: dict[tuple[str, str, str], list[tuple[str, dict]]] = {}
    for rep in reports:
        for r in rep["results"]:
            rows.setdefault(_key(r), []).append((Path(rep["model"]).stem, r))
    lines = [
        "| format | precision | runs in | file | PSNR (min) | max abs | latency | tolerance |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes, failed = [], False
    for (fmt, prec, variant), entries in rows.items():
        ran = [r for _, r in entries if r["status"] != "skipped"]
        for model, r in entries:
            if r["status"] == "skipped":
                notes.append(f"{fmt} {prec}{' ' + variant if variant else ''} ({model}): SKIPPED: {r['reason']}")
        if not ran:
            continue
        bad = [model for model, r in entries if r["status"] == "failed"]
        failed |= bool(bad)
        psnr = min(_float(r["psnr_min"]) for r in ran)
        max_abs = max(_float(r["max_abs"]) for r in ran)
        lat = [r["latency"]["median_ms"] for r in ran if r.get("latency")]
        latency = f"{statistics.median(lat):.0f} ms" if lat else "-"
        size = max(r["size_bytes"] or 0 for r in ran)
        labels = sorted({_short(r["ran_on"]) for r in ran})
        status = f"FAILED ({', '.join(bad)})" if bad else f"{psnr:.1f} dB"
        name = f"{prec} ({variant})" if variant else prec
        # reports judged by different versions of a row (runs before and after a row changed) show each one
        tolerances = " or ".join(dict.fromkeys(_tolerance(r.get("tolerance")) for r in ran))
        lines.append(
            f"| {fmt} | {name} | {'; '.join(labels)} | {_size(size)} | {status} | {max_abs:.2g} | {latency} "
            f"| {tolerances} |"
        )
    return lines, notes, failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", type=Path, nargs="+", help="report.json files written by styleport parity / demo")
    args = ap.parse_args(argv)
    reports = []
    for path in args.reports:
        try:
            reports.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            print(f"parity_table: error: {path}: not a readable parity report.json ({exc})", file=sys.stderr)
            return 2
    lines, notes, failed = table(reports)
    sizes = sorted({f"{h}x{w}" for rep in reports for h, w in rep["sizes"]})
    models = ", ".join(Path(rep["model"]).stem for rep in reports)
    cpu = reports[0]["machine"].get("cpu") or reports[0]["machine"]["platform"]
    print(f"<!-- bench/parity_table.py over {len(reports)} report(s): {models}; sizes {', '.join(sizes)}; {cpu} -->")
    print("\n".join(lines))
    for note in notes:
        print(f"\n- {note}")
    counts = [sum(r["status"] == s for rep in reports for r in rep["results"]) for s in ("passed", "failed", "skipped")]
    print(f"\n{counts[0]} passed, {counts[1]} failed, {counts[2]} skipped", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
