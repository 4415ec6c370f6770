"""Print the Markdown table of style/content distances from `styleport evaluate` reports.

    python bench/quality_table.py [--label DIR=NAME ...] EVAL_DIR/report.json [...]

One row per style per report (the network), plus the `--optimize` reference row of each painting
once, and the network/reference ratios at relu3_1 and relu4_1 (issue #13's goal: within 1.10).
The numbers are the means over the report's photos, as `styleport evaluate` wrote them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from styleport.evaluate import STYLE_LAYERS as LAYERS
from styleport.evaluate import score_cells as cells


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+", type=Path)
    ap.add_argument("--label", action="append", default=[], metavar="DIR=NAME", help="row label for a report folder")
    args = ap.parse_args()
    labels = dict(item.split("=", 1) for item in args.label)
    head = ["style", "result", *LAYERS, "content relu2_2", "content relu4_2", "relu3_1 / ref", "relu4_1 / ref"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    refs: dict[str, list[str]] = {}
    first = None
    for path in args.reports:
        report = json.loads(path.read_text())
        first = first or report
        label = labels.get(path.parent.name, Path(report["model"]).name)
        for entry in report["styles"]:
            net, ref = entry["network"], entry.get("optimized")
            ratio = ["", ""]
            if ref:
                ratio = [f"{net['style'][k] / ref['style'][k]:.2f}" for k in ("relu3_1", "relu4_1")]
                refs.setdefault(entry["style"], cells(ref))
            print(f"| {entry['style']} | {label} | " + " | ".join(cells(net) + ratio) + " |")
    for style, row in sorted(refs.items()):
        steps = first["optimize_steps"]
        print(f"| {style} | `--optimize` reference ({steps} L-BFGS steps) | " + " | ".join(row) + " | 1 | 1 |")
    photos = ", ".join(r["photo"] for r in first["styles"][0]["photos"])
    print(
        f"\n<!-- bench/quality_table.py: photos {photos} at {first['size']} px, painting at {first['style_size']} px -->"
    )


if __name__ == "__main__":
    main()
