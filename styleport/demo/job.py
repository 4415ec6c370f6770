"""``styleport demo`` with no verb: the README's main job, end to end on the bundled defaults.

1. stylize every bundled sample photo with every shipped style -> gallery/ (+ a contact sheet);
2. export every format x precision and run the parity suite on each artifact in its real runtime
   -> exports/, parity/report.{json,md,html};
3. build the static web demo with the shipped models -> site/;
then print where each result is and how to open the site. Each step reports progress; a failure
stops the job with the step's error and a nonzero exit.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

from styleport.checkpoints import Checkpoint
from styleport.demo.build import BUNDLED_MODELS, default_models
from styleport.errors import UsageError
from styleport.images import sample_photos

CELL = 256  # contact-sheet cell width (px)


@dataclasses.dataclass(frozen=True)
class JobConfig:
    out: Path = Path("styleport-demo")
    models: tuple[Path, ...] = ()  # empty: the bundled models
    photos: tuple[Path, ...] = ()  # empty: the bundled sample photos
    parity: bool = True
    site: bool = True
    runs: int = 3  # timed runs per artifact in the parity step


def bundled_models() -> tuple[Path, ...]:
    return default_models()


def bundled_photos() -> tuple[Path, ...]:
    return sample_photos()


def _styles(ckpt: Checkpoint) -> list[tuple[str, int]]:
    return [(name, i) for i, name in enumerate(ckpt.style_names)]


def stylize_gallery(models: tuple[Path, ...], photos: tuple[Path, ...], out: Path, say: Callable[[str], None]) -> Path:
    """Every photo x every style -> out/<style>/<photo>.jpg, and a contact sheet out/../gallery.jpg."""
    from styleport.images import load_image, save_image
    from styleport.stylize import StylizeOptions, Stylizer

    loaded = [load_image(p) for p in photos]
    columns: list[tuple[str, list[Image.Image]]] = [("photo", [img.rgb for img in loaded])]
    for path in models:
        net = Stylizer.from_file(path, device="auto")
        for name, index in _styles(net.checkpoint):
            t0 = time.perf_counter()
            results = []
            for photo, img in zip(photos, loaded, strict=True):
                result = net.stylize(img.rgb, StylizeOptions(style_index=index if net.model.num_styles > 1 else None))
                save_image(out / name / f"{photo.stem}.jpg", result)
                results.append(result)
            columns.append((name, results))
            say(f"  {name}: {len(photos)} photos in {time.perf_counter() - t0:.1f} s -> {out / name}/")
    sheet = contact_sheet(columns)
    return save_image(out.parent / "gallery.jpg", sheet)


def contact_sheet(columns: list[tuple[str, list[Image.Image]]]) -> Image.Image:
    """Columns = original + one per style, rows = photos; cells CELL px wide, rows as tall as needed."""
    label = 24
    heights = [max(1, round(CELL * img.height / img.width)) for img in columns[0][1]]
    sheet = Image.new("RGB", (CELL * len(columns), label + sum(heights)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, (title, images) in enumerate(columns):
        draw.text((c * CELL + 8, 6), title, fill="black")
        y = label
        for img, h in zip(images, heights, strict=True):
            sheet.paste(img.resize((CELL, h), Image.Resampling.LANCZOS), (c * CELL, y))
            y += h
    return sheet


JOB_OUTPUTS = {"gallery", "gallery.jpg", "exports", "parity", "site"}


def run(config: JobConfig, say: Callable[[str], None] = print) -> int:
    from styleport.fileutil import claim_folder, holds_only, scratch

    models = config.models or bundled_models()
    photos = config.photos or bundled_photos()
    if not models:
        raise UsageError(f"no models: none bundled in {BUNDLED_MODELS} and none given")
    out = config.out
    claim_folder(out, "demo output", legacy=lambda p: holds_only(p, JOB_OUTPUTS))
    with scratch(out):
        return _run(config, models, photos, say)


def _run(config: JobConfig, models, photos, say: Callable[[str], None]) -> int:
    out = config.out
    start = time.perf_counter()
    steps = 1 + int(config.parity) + int(config.site)
    say(f"[1/{steps}] stylizing {len(photos)} sample photos with {len(models)} model file(s)")
    gallery = stylize_gallery(models, photos, out / "gallery", say)
    where = [f"gallery:  {gallery} (contact sheet), {out / 'gallery'}/<style>/"]
    step = 1
    if config.parity:
        step += 1
        say(f"[{step}/{steps}] exporting every format x precision and checking parity in each runtime")
        where += _parity(models, out, config.runs, say)
    if config.site:
        step += 1
        say(f"[{step}/{steps}] building the web demo")
        where += _site(models, out / "site", say)
    say(f"\ndone in {time.perf_counter() - start:.0f} s. Results:")
    for line in where:
        say(f"  {line}")
    return 0


def _parity(models: tuple[Path, ...], out: Path, runs: int, say: Callable[[str], None]) -> list[str]:
    from styleport import quiet
    from styleport.parity import report
    from styleport.parity.run import NothingVerified, ParityConfig, ParityFailure
    from styleport.parity.run import run as parity_run

    lines, failed = [], []
    for path in models:
        folder = out / "parity" / path.stem
        config = ParityConfig(export_dir=out / "exports" / path.stem, runs=runs)
        with quiet.third_party():  # TensorFlow / coremltools / LiteRT chatter -> the log file
            result = parity_run(path, config, progress=lambda text: say(f"  {text}"))
        report.write(result, folder)
        lines.append(f"parity:   {folder / 'report.html'} (and report.md, report.json); files in {config.export_dir}/")
        if result.failed:
            failed.append(result)
        elif not result.verified:  # every runtime skipped: nothing was checked, which is not a pass
            raise NothingVerified(result.results)
    if failed:
        raise ParityFailure(failed[0])
    return lines


def _site(models: tuple[Path, ...], site: Path, say: Callable[[str], None]) -> list[str]:
    from styleport.demo.build import BuildConfig, build_site

    build_site(BuildConfig(models=models, out=site), progress=lambda text: say(f"  {text}"))
    return [
        f"web demo: {site}/ -- open it with:  styleport demo serve {site}  (then visit the printed URL)",
    ]
