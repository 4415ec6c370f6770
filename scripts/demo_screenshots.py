"""Screenshots of a built demo site at laptop and phone widths, for docs/ (small palette PNGs).

styleport demo build -o site && python scripts/demo_screenshots.py site --out docs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

VIEWS = {
    "web-demo-desktop.png": {"viewport": (1280, 820)},
    "web-demo-phone.png": {"viewport": (390, 844), "is_mobile": True, "has_touch": True, "device_scale_factor": 1},
}


def shoot(site: Path, out: Path, query: str) -> list[Path]:
    from PIL import Image

    from styleport.demo import browser, serve
    from styleport.fileutil import atomic_output

    reason = browser.unavailable_reason()
    if reason:
        raise SystemExit(f"cannot take screenshots: {reason}")
    written = []
    with serve.Background(site) as url:
        for name, options in VIEWS.items():
            with browser.launch(**options) as context:
                page = context.new_page()
                page.goto(url + query)
                page.wait_for_function(
                    "Number(document.body.dataset.runs) >= 1 || document.body.dataset.state == 'error'", timeout=300_000
                )
                page.wait_for_timeout(300)  # let thumbnails finish painting
                raw = out / f".{name}.raw.png"
                page.screenshot(path=str(raw), full_page=name.endswith("phone.png"))
            with Image.open(raw) as img, atomic_output(out / name) as tmp:
                # RGB -> 256-colour palette: a third of the bytes, no visible change for a UI shot
                img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(tmp, optimize=True)
            raw.unlink()
            written.append(out / name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--query", default="", help="URL query, e.g. '?model=starry&res=384'")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in shoot(args.site, args.out, args.query):
        print(f"{path}  {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
