"""In-browser latency of the demo's engines in headless Chromium, at 256 and 512 px (square inputs).

Builds a demo site with one width-1.0 network (a bundled trained model if there is one, else a
random-init one: latency does not depend on the weight values), serves it with the isolation
headers, and for each engine/backend stylizes the same photo ``--repeats`` times after one
warm-up run. The time is the page's own per-frame figure (the engine call only: tensor in ->
tensor out, excluding canvas conversions). WebGL runs on SwiftShader here (software, ~30x slower
than wasm), so it is only measured with --webgl. Unavailable backends are reported SKIPPED.

    python bench/web_latency.py                      # ort-wasm, tfjs-wasm at 256 and 512
    python bench/web_latency.py --webgl --repeats 3
    python bench/web_latency.py --model styleport/data/models/starry.pth
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

ENGINES = ("ort-wasm", "tfjs-wasm", "ort-webgpu", "tfjs-webgpu")


def model_file(explicit: Path | None, folder: Path) -> Path:
    from styleport import checkpoints
    from styleport.demo.build import default_models
    from styleport.model import ModelConfig, TransformerNet

    if explicit:
        return explicit
    bundled = default_models()
    if bundled:
        return bundled[0]
    net = TransformerNet(ModelConfig(width=1.0))
    return checkpoints.save(folder / "random_w1.pth", net, {"style_names": ["random"]})


def square_photo(size: int, out: Path) -> Path:
    from PIL import ImageOps

    from styleport.demo.build import SAMPLES
    from styleport.images import load_image

    photo = load_image(sorted(SAMPLES.glob("*.jpg"))[0]).rgb
    ImageOps.fit(photo, (size, size)).save(out)
    return out


def measure(context, url: str, engine: str, photo: Path, repeats: int) -> tuple[list[float], str]:
    """Per-frame ms for ``repeats`` runs after a warm-up, plus what the page says is running."""
    page = context.new_page()
    try:
        page.goto(f"{url}?engine={engine}&res=0&sample=0")
        page.wait_for_function("document.body.dataset.state == 'ready'")
        times = []
        for i in range(repeats + 1):
            before = int(page.evaluate("Number(document.body.dataset.runs)"))
            page.set_input_files("#file", str(photo))
            page.wait_for_function(
                f"Number(document.body.dataset.runs) > {before} || document.body.dataset.state == 'error'",
                timeout=600_000,
            )
            error = page.inner_text("#error")
            if error:
                raise RuntimeError(error)
            if i:  # the first run is a warm-up (kernel compilation, allocation)
                times.append(float(re.match(r"([\d.]+) ms", page.inner_text("#latency")).group(1)))
        return times, page.inner_text("#engine-info").removeprefix("Running: ")
    finally:
        page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="checkpoint (default: first bundled model, else random width 1.0)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--webgl", action="store_true", help="also measure TF.js WebGL (software rendering here: slow)")
    args = parser.parse_args(argv)

    from styleport.demo import browser, build, serve

    reason = browser.unavailable_reason()
    if reason:
        print(f"SKIPPED: {reason}")
        return 1
    engines = ENGINES + (("tfjs-webgl",) if args.webgl else ())
    with tempfile.TemporaryDirectory(prefix="styleport-weblat-") as tmp:
        tmp = Path(tmp)
        model = model_file(args.model, tmp)
        print(f"building the site for {model} ...", file=sys.stderr)
        cfg = build.BuildConfig(models=(model,), out=tmp / "site", verify=False, tfjs_precision=build.Precision.FP32)
        build.build_site(cfg, progress=lambda _: None)
        photos = {s: square_photo(s, tmp / f"photo{s}.png") for s in args.sizes}
        rows = []
        with serve.Background(tmp / "site") as url, browser.launch() as context:
            for engine in engines:
                for size in args.sizes:
                    print(f"{engine} @ {size} ...", file=sys.stderr)
                    try:
                        times, info = measure(context, url, engine, photos[size], args.repeats)
                    except Exception as exc:  # noqa: BLE001 - reported per row, never as a number
                        rows.append((engine, size, f"SKIPPED: {str(exc).splitlines()[0][:110]}", "", "", ""))
                        continue
                    med, lo, hi = statistics.median(times), min(times), max(times)
                    rows.append((engine, size, info, f"{med:.0f}", f"{lo:.0f}-{hi:.0f}", str(len(times))))
                    print(f"  {engine} @ {size}: median {med:.0f} ms ({lo:.0f}-{hi:.0f}), {info}", file=sys.stderr)
    print(f"\nmodel: {model.name}; headless Chromium {browser.chromium_path()}; per-frame engine time in ms")
    header = ("engine", "size", "what ran", "median", "range", "runs")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
