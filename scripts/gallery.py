"""The README's 1024 px gallery: each bundled style on a full-size photo it never saw in training.

    python scripts/gallery.py --photos PHOTO [PHOTO ...] -o docs/gallery

Photos are assigned to the networks in turn (network i gets photo i mod N) and stylized at their
own size (long side capped at --size, 1024 by default) with the bundled networks, fp32 on the CPU;
a multi-style network is shown by one image that mixes its styles equally. Writes
``<model file stem>.jpg`` per single-style network (``<stem>_mix.jpg`` for a multi-style one) and
``gallery.md`` (the Markdown the README includes, with the
photo each image came from).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from styleport.demo.build import default_models
from styleport.errors import StyleportError
from styleport.fileutil import atomic_write_bytes, claim_folder
from styleport.images import load_image, save_image
from styleport.optimize_command import resize_long
from styleport.stylize import StylizeOptions, Stylizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", nargs="+", type=Path, required=True)
    ap.add_argument("--size", type=int, default=1024, help="long side cap in px (default 1024)")
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()
    claim_folder(
        args.output, "gallery", legacy=lambda f: (f / "gallery.md").is_file()
    )  # never into a stranger's folder
    photos = [load_image(p).rgb for p in args.photos]
    photos = [resize_long(im, args.size) if max(im.size) > args.size else im for im in photos]
    rows, k = [], 0
    for model in default_models():
        net = Stylizer.from_file(model, device="cpu")
        n = net.model.num_styles
        if n == 1:  # named by file: starry_night_stable.pth has the style name starry_night too
            jobs = [(model.stem, StylizeOptions())]
        else:  # its single styles look like the single-style networks': show the mix
            jobs = [(f"{model.stem}_mix", StylizeOptions(style_weights=tuple([1.0 / n] * n)))]
        for name, opts in jobs:
            photo, source = photos[k % len(photos)], args.photos[k % len(photos)]
            k += 1
            out = save_image(args.output / f"{name}.jpg", net.stylize(photo, opts), quality=80)
            style = net.checkpoint.style_names[0]
            label = f"{model.stem}, equal mix of its {n} styles" if n > 1 else f"{style} ({model.stem}.pth)"
            rows.append(f"| ![{name}]({out.name}) | {label}, {photo.width}x{photo.height}, photo: {source.stem} |")
            print(f"{out} ({photo.width}x{photo.height})")
    text = "| 1024 px result | style, size, photo |\n|---|---|\n" + "\n".join(rows) + "\n"
    atomic_write_bytes(args.output / "gallery.md", text.encode())


if __name__ == "__main__":
    try:
        main()
    except StyleportError as exc:  # one line, nonzero exit (an occupied -o folder, an unreadable photo)
        raise SystemExit(f"error: {exc}") from None
