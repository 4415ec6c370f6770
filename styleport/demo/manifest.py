"""The models manifest (``site/models.json``) the page reads. Format documented in
``styleport/data/web/MANIFEST.md``; ``styleport/data/web/js/manifest.js`` checks the same fields.

Paths inside are relative to the manifest. One entry per checkpoint; a multi-style checkpoint has
one ``styles`` row per style (the page offers each style and, for these models, mixing).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from styleport.checkpoints import Checkpoint

FORMAT = "styleport-demo"
VERSION = 1


@dataclasses.dataclass(frozen=True)
class StyleEntry:
    name: str
    thumbnail: str  # site-relative path of a small JPEG
    license: str
    source: str
    title: str = ""  # the painting's title, when known ("Composition VIII")
    artist: str = ""  # "Wassily Kandinsky"
    year: str = ""  # "1923", "c. 1831"


@dataclasses.dataclass(frozen=True)
class FileEntry:
    path: str  # site-relative; for TF.js the model.json inside the folder
    precision: str
    bytes: int


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    id: str
    title: str
    num_styles: int
    width: float
    styles: tuple[StyleEntry, ...]
    files: dict[str, FileEntry]  # "onnx" / "tfjs" -> file
    contract: dict[str, Any]


def model_id(path: Path, taken: set[str]) -> str:
    """A URL-safe id from the checkpoint's file name, unique within the manifest."""
    base = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "model"
    out, n = base, 2
    while out in taken:
        out, n = f"{base}-{n}", n + 1
    taken.add(out)
    return out


# "Katsushika Hokusai, The Great Wave off Kanagawa (c. 1831)" or "Wassily Kandinsky, *Composition VIII* (1923)"
_CREDIT = re.compile(r"^\s*(?P<artist>[^,;*|]+?),\s*\*?(?P<title>[^*;|]+?)\*?\s*\((?P<year>[^)]*\d{3,4}[^)]*)\)")
_CARD_ROW = re.compile(r"^\|\s*Style\s*\|(?P<credit>[^|]+)\|", re.MULTILINE)


def painting_of(row: dict, checkpoint: Checkpoint, index: int) -> dict[str, str]:
    """Title, artist and year of a style's painting: explicit metadata keys (``title``/``painting``,
    ``artist``/``painter``, ``year``), else parsed from its ``source`` credit, else from the "Style" row
    of the model card beside a single-style checkpoint (``<stem>.md``). Empty strings when unknown."""
    out = {
        "title": str(row.get("painting") or row.get("title") or ""),
        "artist": str(row.get("artist") or row.get("painter") or ""),
        "year": str(row.get("year") or ""),
    }
    if all(out.values()):
        return out
    credits = [str(row.get("source") or "")]
    card = checkpoint.path.with_suffix(".md")
    if checkpoint.config.num_styles == 1 and card.is_file():
        found = _CARD_ROW.search(card.read_text(errors="replace"))
        if found:
            credits.append(found.group("credit"))
    for credit in credits:
        match = _CREDIT.match(credit)
        if match:
            return {key: out[key] or match.group(key).strip() for key in out}
    return out


def style_info(checkpoint: Checkpoint) -> list[dict[str, str]]:
    """Per-style name/source/license (+ painting title/artist/year) from the checkpoint metadata."""
    names = checkpoint.style_names
    rows = checkpoint.metadata.get("styles") or []
    out = []
    for i, name in enumerate(names):
        row = rows[i] if i < len(rows) and isinstance(rows[i], dict) else {}
        out.append(
            {
                "name": str(row.get("name") or name),
                "source": str(row.get("source") or row.get("title") or ""),
                "license": str(row.get("license") or ""),
                **painting_of(row, checkpoint, i),
            }
        )
    return out


def sample_title(stem: str) -> str:
    """A readable name for a sample photo file: "hawaMahal" -> "Hawa Mahal", "machu_picchu" -> "Machu Picchu"."""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", stem).replace("_", " ").replace("-", " ").split()
    return " ".join(w[:1].upper() + w[1:] for w in words)


def title_of(checkpoint: Checkpoint, styles: list[dict[str, str]]) -> str:
    title = checkpoint.metadata.get("title") or checkpoint.metadata.get("description")
    if isinstance(title, str) and title and len(title) <= 40:
        return title
    return (styles[0].get("title") or styles[0]["name"]) if len(styles) == 1 else checkpoint.path.stem


def contract(num_styles: int, formats: list[str], tfjs_model_json: Path | None) -> dict[str, Any]:
    """The I/O contract the page relies on, per shipped format; TF.js names come from its model.json."""
    onnx = {"layout": "NCHW", "image": "image", "output": "stylized"}
    tfjs: dict[str, Any] = {"layout": "NHWC", "image": "image", "output": None}
    if num_styles > 1:
        onnx["style_weights"] = "style_weights"
        tfjs["style_weights"] = "style_weights"
    if tfjs_model_json is not None:
        signature = json.loads(tfjs_model_json.read_text()).get("signature") or {}
        inputs = list((signature.get("inputs") or {}).keys())
        if inputs:
            tfjs["image"] = next((k for k in inputs if k.startswith("image")), inputs[0])
            if num_styles > 1:
                tfjs["style_weights"] = next((k for k in inputs if k != tfjs["image"]), None)
    out: dict[str, Any] = {"color": "RGB", "range": [0, 255], "dynamic_size": True}
    out.update({name: io for name, io in (("onnx", onnx), ("tfjs", tfjs)) if name in formats})
    return out


def write(path: Path, models: list[ModelEntry], samples: list[dict[str, str]], vendor: dict[str, str]) -> None:
    data = {
        "format": FORMAT,
        "version": VERSION,
        "generator": "styleport demo build",
        "vendor": vendor,
        "samples": samples,
        "models": [dataclasses.asdict(m) for m in models],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")


def read(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a styleport demo manifest")
    return data
