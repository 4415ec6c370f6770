"""In-browser latency of the demo's engines in headless Chromium, side by side in one run.

Builds a demo site with one network (the first bundled model, width 0.5, unless --model), serves it
with the isolation headers and opens one page per configuration: each engine with 1 thread and
with all cores (wasm engines), on the cross-origin-isolated page. Then, round by round, every page
stylizes the same square photo once, so the configurations are measured interleaved under the same
machine load (this 2-core machine is shared: the load average is printed before and after). The
time is the page's own per-frame figure (the engine call inside the inference worker, excluding
pixel conversions). It also measures the webcam loop (Chromium's fake 640x480 camera scaled to
--webcam-size) as frames per second over --webcam-seconds, and prints what each page says runs.

WebGL runs on SwiftShader here (software, ~100x slower than wasm), so it is only measured with
--webgl. Unavailable backends are reported SKIPPED.

    python bench/web_latency.py                        # 256 and 512 px, threads 1 vs all, webcam at 256
    python bench/web_latency.py --sizes 512 --repeats 7
    python bench/web_latency.py --model styleport/data/models/starry_night.pth
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

WASM_ENGINES = ("ort-wasm", "tfjs-wasm")
GPU_ENGINES = ("ort-webgpu", "tfjs-webgpu")


def model_file(explicit: Path | None, folder: Path) -> Path:
    from styleport import checkpoints
    from styleport.demo.build import default_models
    from styleport.model import ModelConfig, TransformerNet

    if explicit:
        return explicit
    bundled = default_models()
    if bundled:
        return bundled[0]
    net = TransformerNet(ModelConfig(width=0.5))
    return checkpoints.save(folder / "random_w05.pth", net, {"style_names": ["random"]})


def square_photo(size: int, out: Path) -> Path:
    from PIL import ImageOps

    from styleport.images import load_image, sample_photos

    photo = load_image(sample_photos()[0]).rgb
    ImageOps.fit(photo, (size, size)).save(out)
    return out


def open_page(context, url: str, engine: str, threads: int | None, size: int):
    query = f"?engine={engine}&res={size}&sample=0" + (f"&threads={threads}" if threads else "")
    page = context.new_page()
    page.goto(url + query)
    page.wait_for_function("document.body.dataset.state == 'ready'")
    return page


def run_once(page, photo: Path) -> float:
    before = int(page.evaluate("Number(document.body.dataset.runs)"))
    page.set_input_files("#file", str(photo))
    page.wait_for_function(
        f"Number(document.body.dataset.runs) > {before} || document.body.dataset.state == 'error'", timeout=900_000
    )
    error = page.inner_text("#error")
    if error:
        raise RuntimeError(error)
    return float(re.match(r"([\d.]+) ms", page.inner_text("#latency")).group(1))


def webcam_fps(pw, url: str, engine: str, size: int, seconds: float) -> tuple[float, str]:
    """Frames per second of the live loop, counted over `seconds` after 3 warm-up frames."""
    from styleport.demo import browser

    with browser.launch_with(pw, extra_args=browser.FAKE_CAMERA) as ctx:
        page = open_page(ctx, url, engine, None, size)
        page.click("#webcam-toggle")
        page.wait_for_function("Number(document.body.dataset.runs) >= 3", timeout=300_000)
        n0, t0 = int(page.evaluate("Number(document.body.dataset.runs)")), time.perf_counter()
        page.wait_for_timeout(seconds * 1000)
        n1, t1 = int(page.evaluate("Number(document.body.dataset.runs)")), time.perf_counter()
        info = page.inner_text("#engine-info").removeprefix("Running: ")
        page.click("#webcam-toggle")
        return (n1 - n0) / (t1 - t0), info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="checkpoint (default: first bundled model, width 0.5)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds after one warm-up round")
    parser.add_argument("--webcam-size", type=int, default=256, help="0 = skip the webcam measurement")
    parser.add_argument("--webcam-seconds", type=float, default=15.0)
    parser.add_argument("--webgl", action="store_true", help="also measure TF.js WebGL (software rendering here: slow)")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from styleport.demo import browser, build, serve

    reason = browser.unavailable_reason()
    if reason:
        print(f"SKIPPED: {reason}")
        return 1
    cores = os.cpu_count() or 1
    configs = [(e, t) for e in WASM_ENGINES for t in (1, cores)] + [(e, None) for e in GPU_ENGINES]
    if args.webgl:
        configs.append(("tfjs-webgl", None))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="styleport-weblat-") as tmp:
        tmp = Path(tmp)
        model = model_file(args.model, tmp)
        print(f"building the site for {model} ...", file=sys.stderr)
        cfg = build.BuildConfig(models=(model,), out=tmp / "site", verify=False)
        build.build_site(cfg, progress=lambda _: None)
        photos = {s: square_photo(s, tmp / f"photo{s}.png") for s in args.sizes}
        rows = []
        with serve.Background(tmp / "site") as url, sync_playwright() as pw, browser.launch_with(pw) as context:
            for size in args.sizes:
                pages, times, infos = {}, {}, {}
                for engine, threads in configs:
                    try:
                        page = open_page(context, url, engine, threads, size)
                        run_once(page, photos[size])  # warm-up: loads the engine, compiles kernels
                        pages[(engine, threads)] = page
                        times[(engine, threads)] = []
                        infos[(engine, threads)] = page.inner_text("#engine-info").removeprefix("Running: ")
                    except Exception as exc:  # noqa: BLE001 - reported per row, never as a number
                        rows.append(
                            (engine, threads or "-", size, f"SKIPPED: {str(exc).splitlines()[0][:100]}", "", "", "")
                        )
                for r in range(args.repeats):  # interleaved: every configuration once per round
                    print(f"{size} px: round {r + 1}/{args.repeats}", file=sys.stderr)
                    for key, page in pages.items():
                        times[key].append(run_once(page, photos[size]))
                for key, page in pages.items():
                    t = times[key]
                    med = statistics.median(t)
                    rows.append(
                        (
                            key[0],
                            key[1] or "-",
                            size,
                            infos[key],
                            f"{med:.0f}",
                            f"{min(t):.0f}-{max(t):.0f}",
                            str(len(t)),
                        )
                    )
                    page.close()
                for engine in WASM_ENGINES:  # the ratio the docs quote: all cores vs 1 thread, same rounds
                    one, many = times.get((engine, 1)), times.get((engine, cores))
                    if one and many:
                        ratio = statistics.median(one) / statistics.median(many)
                        print(f"{engine} @ {size}: {cores} threads are {ratio:.2f}x 1 thread", file=sys.stderr)
                        rows.append((engine, f"{cores} vs 1", size, "speed-up (median ratio)", f"{ratio:.2f}x", "", ""))
            if args.webcam_size:
                for engine in WASM_ENGINES:
                    fps, info = webcam_fps(pw, url, engine, args.webcam_size, args.webcam_seconds)
                    rows.append((engine, "auto", f"webcam {args.webcam_size}", info, f"{fps:.1f} fps", "", ""))
    load_after = os.getloadavg()
    print(
        f"\nmodel: {model.name}; headless Chromium {browser.chromium_path()}; {cores} cores; per-frame engine time in ms"
    )
    print(f"load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f}")
    header = ("engine", "threads", "size", "what the page says runs", "median", "range", "runs")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
