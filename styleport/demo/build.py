"""``styleport demo build``: assemble the static site (pages + npm libraries + exported models).

Layout of the output folder::

    index.html, css/, js/, coi.js        copied from styleport/data/web/ (package data)
    vendor/ort/*, vendor/tfjs/*          copied from node_modules (see vendor.py)
    samples/*.jpg + LICENSES.md          the bundled sample photos
    models/<id>/<stem>_fp32.onnx         exported by the real ONNX exporter
    models/<id>/<stem>_uint8_tfjs/       exported by the real TF.js exporter (model.json + shards)
    models/<id>/style<i>.jpg             thumbnails
    models.json                          the manifest (manifest.py)

The whole folder is written to a temp sibling and renamed into place only when everything,
including every export, succeeded.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

from styleport.checkpoints import Checkpoint
from styleport.demo import manifest, vendor
from styleport.errors import OutputError, UsageError
from styleport.fileutil import atomic_output, holds_only, is_ours, mark, scratch
from styleport.images import SAMPLES_DIR, sample_photos
from styleport.precision import Precision

DATA = Path(__file__).resolve().parents[1] / "data"
SITE_SOURCE = DATA / "web"  # the page template, shipped in the wheel
BUNDLED_MODELS = DATA / "models"
FORMATS = ("onnx", "tfjs")
PRECISIONS = {"onnx": (Precision.FP32, Precision.FP16), "tfjs": (Precision.UINT8, Precision.FP16, Precision.FP32)}
THUMB_PX = 160


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    models: tuple[Path, ...]
    out: Path
    formats: tuple[str, ...] = FORMATS
    onnx_precision: Precision = Precision.FP32
    tfjs_precision: Precision = Precision.UINT8
    verify: bool = True
    thumbnails: tuple[tuple[str, Path], ...] = ()  # (style name, painting image)
    site_source: Path = SITE_SOURCE
    node_modules: Path | None = None


def default_models() -> tuple[Path, ...]:
    return tuple(sorted(BUNDLED_MODELS.glob("*.pth")))


def check(config: BuildConfig) -> None:
    """Everything that can be checked before work starts."""
    if not config.models:
        raise UsageError(f"no models to build: pass --models M.pth ... (none bundled in {BUNDLED_MODELS})")
    unknown = [f for f in config.formats if f not in FORMATS]
    if unknown or not config.formats:
        raise UsageError(f"--formats: choose from {', '.join(FORMATS)} (got {', '.join(config.formats) or 'none'})")
    for fmt, precision in (("onnx", config.onnx_precision), ("tfjs", config.tfjs_precision)):
        if precision not in PRECISIONS[fmt]:
            ok = ", ".join(p.value for p in PRECISIONS[fmt])
            raise UsageError(f"the demo ships {fmt} at {ok}, not {precision}")
    if not (config.site_source / "index.html").is_file():
        raise UsageError(f"{config.site_source}: no index.html (the page template, styleport/data/web/ in the package)")
    for name, path in config.thumbnails:
        if not path.is_file():
            raise UsageError(f"--thumbnail {name}={path}: no such file")
    if config.out.resolve() in (config.site_source.resolve(), Path.cwd().resolve(), vendor.REPO_ROOT):
        raise UsageError(f"-o {config.out}: refusing to replace that folder; pick a new output folder")
    check_output(config)


def is_site(folder: Path, site_source: Path = SITE_SOURCE) -> bool:
    """A site an earlier styleport built (before the marker existed): only the files build_site writes."""
    names = {p.name for p in site_source.iterdir()} | {"vendor", "samples", "models", "models.json"}
    return holds_only(folder, names, required={"index.html", "models.json"})


def check_output(config: BuildConfig) -> None:
    """-o is replaced as a whole, so it must be new, empty or a site styleport built; never an input's folder."""
    out = config.out
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is a file, not a folder; pick a new site folder")
    if out.is_dir() and not (is_ours(out) or is_site(out, config.site_source)):
        raise OutputError(
            f"{out}: folder is not empty and was not built by styleport; not replacing it (pick a new folder)"
        )
    root = out.resolve()
    inputs = [Path.cwd(), *config.models, *(p for _, p in config.thumbnails)]
    inside = next((p for p in inputs if p.resolve() == root or root in p.resolve().parents), None)
    if inside is not None:
        raise UsageError(f"-o {out}: would replace a folder holding {inside}; pick a new output folder")


def build_site(config: BuildConfig, progress: Callable[[str], None] = print) -> dict:
    """Build the site into ``config.out`` (replaced atomically). Returns the manifest data."""
    from styleport import checkpoints

    check(config)
    node_modules = vendor.find_node_modules(config.node_modules)
    loaded = [checkpoints.load(p) for p in config.models]  # CheckpointError before any work
    jobs_for = _plan_exports(loaded, config)  # UsageError / MissingDependencyError before any work
    replaceable = lambda p: is_site(p, config.site_source)  # noqa: E731
    with scratch(config.out.parent), atomic_output(config.out, replaceable=replaceable) as tmp:
        progress = _final_paths(progress, tmp, config.out)
        shutil.copytree(config.site_source, tmp, ignore=shutil.ignore_patterns("*.md", ".*", "node_modules"))
        progress(f"copying JavaScript libraries from {node_modules}")
        versions = vendor.copy_vendor(node_modules, tmp / "vendor")
        samples = _copy_samples(tmp / "samples")
        taken: set[str] = set()
        entries = []
        for ckpt in loaded:
            entries.append(_build_model(ckpt, manifest.model_id(ckpt.path, taken), tmp, jobs_for, config, progress))
        manifest.write(tmp / "models.json", entries, samples, versions)
        mark(tmp, "web demo site")  # a later build may replace this folder
    progress(f"site ready in {config.out} ({len(entries)} model(s)); serve it with: styleport demo serve {config.out}")
    return manifest.read(config.out / "models.json")


def _final_paths(progress: Callable[[str], None], tmp: Path, final: Path) -> Callable[[str], None]:
    """Report paths as they will be after the rename, not the temp folder being written."""
    return lambda text: progress(text.replace(str(tmp), str(final)))


def _plan_exports(loaded: list[Checkpoint], config: BuildConfig):
    """Validate every export request up front; returns a function (checkpoint, folder) -> jobs."""
    from styleport.export import pipeline

    precision = {"onnx": config.onnx_precision, "tfjs": config.tfjs_precision}
    for ckpt in loaded:  # plan into a dummy folder now: raises before any file is written
        for fmt in config.formats:
            pipeline.plan(ckpt, [fmt], config.out, precisions=[precision[fmt]])

    def jobs(ckpt: Checkpoint, folder: Path):
        return [j for fmt in config.formats for j in pipeline.plan(ckpt, [fmt], folder, precisions=[precision[fmt]])]

    return jobs


def _build_model(
    ckpt: Checkpoint, model_id: str, site: Path, jobs_for, config: BuildConfig, progress
) -> manifest.ModelEntry:
    from styleport.export import pipeline

    folder = site / "models" / model_id
    folder.mkdir(parents=True)
    results = pipeline.run(ckpt, jobs_for(ckpt, folder), verify=config.verify, progress=progress)
    files: dict[str, manifest.FileEntry] = {}
    for result in results:
        art = result.artifact
        path = art.path / "model.json" if art.path.is_dir() else art.path
        files[art.format] = manifest.FileEntry(path.relative_to(site).as_posix(), art.precision.value, art.size_bytes)
    styles = manifest.style_info(ckpt)
    given = dict(config.thumbnails)
    style_entries = []
    for i, style in enumerate(styles):
        thumb = folder / f"style{i}.jpg"
        _thumbnail(ckpt, i, given.get(style["name"]) or _painting_beside(ckpt, i, style), thumb)
        style_entries.append(
            manifest.StyleEntry(
                style["name"],
                thumb.relative_to(site).as_posix(),
                style["license"],
                style["source"],
                style["title"],
                style["artist"],
                style["year"],
            )
        )
    tfjs_json = site / files["tfjs"].path if "tfjs" in files else None
    return manifest.ModelEntry(
        id=model_id,
        title=manifest.title_of(ckpt, styles),
        num_styles=ckpt.config.num_styles,
        width=ckpt.config.width,
        styles=tuple(style_entries),
        files=files,
        contract=manifest.contract(ckpt.config.num_styles, list(files), tfjs_json),
    )


def _painting_beside(ckpt: Checkpoint, index: int, style: dict[str, str]) -> Path | None:
    """A painting image shipped next to the checkpoint: the style's ``source`` file name, or
    ``<stem>.jpg``/``.png`` (single-style) / ``<stem>.<index>.jpg``/``.png`` (multi-style), or the
    thumbnail of the network named after the style (``starry_night.jpg`` serves ``trio.pth``'s and
    ``starry_night_stable.pth``'s starry_night)."""
    folder = ckpt.path.parent
    names = [Path(style["source"]).name] if style["source"] else []
    stem = ckpt.path.stem if ckpt.config.num_styles == 1 else f"{ckpt.path.stem}.{index}"
    names += [f"{stem}{ext}" for ext in (".jpg", ".jpeg", ".png", ".webp")]
    if style["name"]:
        names += [f"{style['name']}{ext}" for ext in (".jpg", ".png")]
    return next((folder / n for n in names if n and (folder / n).is_file()), None)


def _thumbnail(ckpt: Checkpoint, index: int, painting: Path | None, out: Path) -> None:
    """A square JPEG: the painting if one was given, else the style applied to a sample photo."""
    from PIL import ImageOps

    from styleport.images import load_image, pil_to_tensor, tensor_to_pil

    if painting is not None:
        img = load_image(painting).rgb
    else:
        import torch

        photo = load_image(sample_photos()[0]).rgb
        photo = ImageOps.fit(photo, (THUMB_PX, THUMB_PX))
        model = ckpt.build("cpu")
        with torch.no_grad():
            img = tensor_to_pil(model(pil_to_tensor(photo), model.default_style_weights(index)))
    ImageOps.fit(img, (THUMB_PX, THUMB_PX)).save(out, quality=85)


def _copy_samples(folder: Path) -> list[dict[str, str]]:
    folder.mkdir(parents=True)
    licenses = SAMPLES_DIR / "LICENSES.md"
    credits = {}
    if licenses.is_file():
        shutil.copyfile(licenses, folder / "LICENSES.md")
        for line in licenses.read_text().splitlines():
            if line.startswith("- ") and ":" in line:
                name, text = line[2:].split(":", 1)
                credits[name.strip()] = text.strip()
    out = []
    for photo in sample_photos():
        shutil.copyfile(photo, folder / photo.name)
        out.append(
            {
                "name": photo.stem,
                "title": manifest.sample_title(photo.stem),
                "path": f"samples/{photo.name}",
                "credit": credits.get(photo.name, ""),
            }
        )
    return out
