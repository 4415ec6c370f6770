"""``styleport evaluate MODEL.pth``: how close a style network gets to its painting, on held-out photos.

Per style: the network's output and (unless ``--no-optimize``) the ``stylize --optimize`` result
for each photo, measured with ``styleport.evaluate.QualityMeter``; written to REPORT_DIR as
report.json, report.md, report.html and sheet.jpg (photo | network | optimization | painting).
Everything is computed before the first file is written; each file is written atomically.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path

from styleport.errors import UsageError
from styleport.optimize_command import _positive_int

DEFAULT_SIZE = 256
DEFAULT_STEPS = 200


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="quality report of a style network on held-out photos",
        description="Per-layer style distance to the painting (relative to the photo's) and content distance "
        "of a network's outputs, next to the --optimize result for the same photos, with a side-by-side sheet.",
    )
    p.add_argument("model", metavar="MODEL.pth")
    p.add_argument("--photos", nargs="+", metavar="PATH", help="photos or folders (default: the bundled samples)")
    p.add_argument("--style", nargs="+", metavar="IMG", help="the painting(s), one per style of the network")
    p.add_argument("--size", type=_positive_int, default=DEFAULT_SIZE, help="photo long side (default 256)")
    p.add_argument("--style-size", type=_positive_int, help="painting long side (default: the model's training one)")
    p.add_argument(
        "--optimize-steps", type=_positive_int, default=DEFAULT_STEPS, help="L-BFGS steps of the reference (200)"
    )
    p.add_argument("--no-optimize", dest="optimize", action="store_false", help="skip the optimization reference")
    p.add_argument("--device", default="auto")
    p.add_argument("-o", "--output", required=True, metavar="REPORT_DIR")
    p.set_defaults(func=run)


def find_photos(specs: list[str] | None) -> list[Path]:
    from styleport.commands import collect_inputs
    from styleport.images import is_image_file, sample_photos

    if not specs:
        return list(sample_photos())
    for spec in specs:
        folder = Path(spec)
        if folder.is_dir() and not any(p.is_file() and is_image_file(p) for p in folder.rglob("*")):
            raise UsageError(
                f"{folder}: no photos in this folder (looked for {', '.join(('.jpg', '.png', '.webp'))} ...)"
            )
    return collect_inputs(specs)


def find_styles(ckpt, given: list[str] | None) -> list[Path]:
    n = ckpt.config.num_styles
    if given:
        if len(given) != n:
            raise UsageError(f"--style: {ckpt.path.name} has {n} style(s), got {len(given)} image(s)")
        return [Path(g) for g in given]
    found = []
    for entry in ckpt.metadata.get("styles", [])[:n]:
        source = str(entry.get("source", ""))
        candidates = [Path(source), ckpt.path.parent / source]
        hit = next((c for c in candidates if source and c.is_file()), None)
        if hit is None:
            raise UsageError(
                f"{ckpt.path}: its painting ('{source or 'not recorded'}') is not a file here: "
                "pass it with --style IMG (the image the network was trained on)"
            )
        found.append(hit)
    if len(found) != n:
        raise UsageError(f"{ckpt.path}: no style image recorded: pass --style IMG")
    return found


def fit(img, long_side: int):
    from styleport.optimize_command import resize_long

    return resize_long(img, long_side)


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from styleport import checkpoints
    from styleport.evaluate import QualityMeter, mean_scores, optimized_reference
    from styleport.fileutil import claim_folder, holds_only
    from styleport.images import load_image, pil_to_tensor, tensor_to_pil
    from styleport.stylize import Stylizer, resolve_device
    from styleport.train.vgg import cache_dir, load_caffe_vgg19

    out_dir = Path(args.output)
    ckpt = checkpoints.load(args.model)
    photo_paths = find_photos(args.photos)
    style_paths = find_styles(ckpt, args.style)
    style_size = args.style_size or int(ckpt.metadata.get("training", {}).get("style_size") or 512)
    photos = [fit(load_image(p).rgb, args.size) for p in photo_paths]
    paintings = [fit(load_image(p).rgb, style_size) for p in style_paths]
    device = resolve_device(args.device)
    stylizer = Stylizer(ckpt.build("cpu"), ckpt, device=device)
    claim_folder(
        out_dir, "evaluate", legacy=lambda p: holds_only(p, REPORT_FILES, {"report.json", "report.md"})
    )  # before the work
    weights = load_caffe_vgg19()
    names = ckpt.style_names
    results, sheet_rows = [], []
    bar = tqdm(total=len(paintings) * len(photos), unit="photo", file=sys.stderr, desc="evaluate")
    for s, (name, painting) in enumerate(zip(names, paintings, strict=True)):
        style_t = pil_to_tensor(painting)
        meter = QualityMeter(style_t, weights, device)
        sw = stylizer.model.default_style_weights(s)
        per_photo = []
        for path, photo in zip(photo_paths, photos, strict=True):
            x = pil_to_tensor(photo)
            net_img = tensor_to_pil(stylizer.run_tensor(x, sw))  # 8-bit, as a user gets it
            row = {"photo": path.name, "network": meter.measure(pil_to_tensor(net_img), x)}
            opt_img = None
            if args.optimize:
                ref = optimized_reference(x, style_t, args.optimize_steps, weights, device, cache_dir() / "optimize")
                opt_img = tensor_to_pil(ref)
                row["optimized"] = meter.measure(ref, x)
            per_photo.append(row)
            sheet_rows.append((photo, net_img, opt_img, painting))
            bar.update(1)
        entry = {"style": name, "painting": str(style_paths[s]), "photos": per_photo}
        for kind in ("network", "optimized"):
            if kind in per_photo[0]:
                entry[kind] = mean_scores([r[kind] for r in per_photo])
        results.append(entry)
    bar.close()
    report = {
        "model": str(ckpt.path),
        "size": args.size,
        "style_size": style_size,
        "optimize_steps": args.optimize_steps if args.optimize else None,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "styles": results,
    }
    written = write_report(out_dir, report, make_sheet(sheet_rows, args.size))
    print(summary(report))
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0


def make_sheet(rows, size: int):
    """One row per (style, photo): photo | network | optimization | painting, each scaled to height ``size``."""
    from PIL import Image, ImageDraw

    pad, label = 4, 16
    cells = [
        [None if c is None else c.resize((max(1, round(c.width * size / c.height)), size)) for c in r] for r in rows
    ]
    widths = [max((r[i].width for r in cells if r[i] is not None), default=size) for i in range(4)]
    sheet = Image.new("RGB", (sum(widths) + pad * 5, len(cells) * (size + pad) + pad + label), "white")
    draw = ImageDraw.Draw(sheet)
    x = pad
    for w, title in zip(widths, ("photo", "network", "optimization", "painting"), strict=True):
        draw.text((x, 2), title, fill="black")
        x += w + pad
    for j, row in enumerate(cells):
        x, y = pad, label + pad + j * (size + pad)
        for w, cell in zip(widths, row, strict=True):
            if cell is not None:
                sheet.paste(cell, (x, y))
            else:
                draw.text((x + 4, y + size // 2), "(--no-optimize)", fill="gray")
            x += w + pad
    return sheet


def _table(entry: dict, kind: str) -> list[tuple[str, list[str], list[float]]]:
    rows = []
    for label in ("network", "optimized"):
        if label in entry:
            layers = list(entry[label][kind])
            rows.append((label, layers, [entry[label][kind][n] for n in layers]))
    return rows


def to_markdown(report: dict) -> str:
    lines = [
        f"# Quality report: {Path(report['model']).name}",
        "",
        f"Photos at {report['size']} px (long side), painting at {report['style_size']} px; "
        + (
            f"reference: `stylize --optimize`, {report['optimize_steps']} L-BFGS steps. "
            if report["optimize_steps"]
            else "no optimization reference (--no-optimize). "
        )
        + "Style distance: ||G(out) - G(painting)|| / ||G(photo) - G(painting)|| (1 = the photo's, lower = "
        "closer to the painting). Content distance: ||F(out) - F(photo)|| / ||F(photo)||.",
    ]
    for entry in report["styles"]:
        lines += ["", f"## {entry['style']} ({Path(entry['painting']).name})", ""]
        for kind in ("style", "content"):
            rows = _table(entry, kind)
            lines += [f"| {kind} distance | " + " | ".join(rows[0][1]) + " |", "|---" * (len(rows[0][1]) + 1) + "|"]
            lines += [f"| {label} | " + " | ".join(f"{v:.3f}" for v in vals) + " |" for label, _, vals in rows]
            lines.append("")
    lines += ["![photo, network, optimization, painting](sheet.jpg)", ""]
    return "\n".join(lines)


def to_html(report: dict) -> str:
    body = [f"<h1>Quality report: {html.escape(Path(report['model']).name)}</h1>"]
    for entry in report["styles"]:
        body.append(f"<h2>{html.escape(entry['style'])}</h2>")
        for kind in ("style", "content"):
            rows = _table(entry, kind)
            head = "".join(f"<th>{n}</th>" for n in rows[0][1])
            cells = "".join(
                f"<tr><td>{label}</td>" + "".join(f"<td>{v:.3f}</td>" for v in vals) + "</tr>"
                for label, _, vals in rows
            )
            body.append(f"<table><tr><th>{kind} distance</th>{head}</tr>{cells}</table>")
    body.append('<p><img src="sheet.jpg" alt="photo | network | optimization | painting"></p>')
    style = "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px}"
    return f"<!doctype html><meta charset=utf-8><title>quality</title><style>{style}</style>" + "".join(body)


REPORT_FILES = {"sheet.jpg", "report.json", "report.md", "report.html"}  # what write_report writes


def write_report(folder: Path, report: dict, sheet) -> list[Path]:
    """sheet.jpg first, so report.html never points at a missing picture."""
    import io

    from styleport.fileutil import atomic_write_bytes

    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    sheet.save(buf, format="JPEG", quality=90)
    files = {
        "sheet.jpg": buf.getvalue(),
        "report.json": json.dumps(report, indent=2).encode(),
        "report.md": to_markdown(report).encode(),
        "report.html": to_html(report).encode(),
    }
    for name, data in files.items():
        atomic_write_bytes(folder / name, data)
    return [folder / n for n in files]


def summary(report: dict) -> str:
    lines = []
    for entry in report["styles"]:
        for label in ("network", "optimized"):
            if label in entry:
                s = " ".join(f"{k}={v:.3f}" for k, v in entry[label]["style"].items())
                c = " ".join(f"{k}={v:.3f}" for k, v in entry[label]["content"].items())
                lines.append(f"{entry['style']:>18} {label:>9}: style {s} | content {c}")
    return "\n".join(lines)
