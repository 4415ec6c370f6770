"""The reliability matrix: every command and option family against hostile-but-realistic input.

Each case states the command (run in-process in a fresh copy of the world, see conftest.py), the
expected exit code, a pattern for its one ``styleport: error:`` line (or for a note / stdout on
success), how many error lines there may be (a batch: one per failed item plus the count), and
which outputs must (not) exist afterwards. Every case also asserts: no traceback, no network call,
every pre-existing file byte-identical, no temp folder left behind.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int
    pattern: str  # regex on the last "styleport: error:" line (code != 0), else on stdout + stderr
    errors: int | None = None  # "styleport: error:" lines (default: 1 on failure, 0 on success)
    absent: tuple[str, ...] = ()  # paths that must not exist afterwards
    present: tuple[str, ...] = ()  # paths that must exist afterwards
    setup: str = ""  # name of a setup step (SETUPS)


S, INFO, T, E, P, D = "stylize", "info", "train", "export", "parity", "demo"
TRAIN = ("--data", "data", "--vgg-weights", "random", "--image-size", "32", "--style-size", "32", "--width", "0.25",
         "--batch-size", "1", "--style-layers", "relu1_1,relu2_1", "--content-layers", "relu2_1", "--workers", "0",
         "--threads", "1", "--preview-size", "32", "--quiet")  # fmt: skip
PHOTO, PHOTO2 = "photos/colosseum.jpg", "photos/gatewayofIndia.jpg"

CASES = [
    # ---- stylize: outputs never overwrite inputs; batches go on; limits before work --------------
    Case("stylize-onto-its-input", (S, "model.pth", PHOTO, "-o", PHOTO), 2, r"colosseum.jpg: is an input"),
    Case("stylize-folder-onto-itself", (S, "model.pth", "photos", "-o", "photos"), 2, r"is an input"),
    Case("stylize-onto-the-model", (S, "model.pth", PHOTO, "-o", "model.pth"), 2, r"model.pth: exists and is not an image"),
    Case("stylize-into-a-foreign-folder", (S, "model.pth", "photos", "-o", "mine"), 1, r"mine: folder is not empty and was not created by styleport"),
    Case("stylize-into-a-file", (S, "model.pth", "photos", "-o", "a_file.txt"), 2, r"a_file.txt: several inputs need an output folder"),
    Case("stylize-several-into-an-image-name", (S, "model.pth", PHOTO, PHOTO2, "-o", "both.png"), 2, r"both.png: several inputs need an output folder, not an image file name", absent=("both.png",)),
    Case("stylize-size-above-max-pixels", (S, "model.pth", PHOTO, "-o", "big.png", "--size", "30000"), 1, r"output 30000x\d+ = [\d.]+ megapixels is above the limit of 300 MP", absent=("big.png",)),
    Case("stylize-scale-above-max-pixels", (S, "model.pth", PHOTO, "-o", "big.png", "--scale", "4", "--max-pixels", "100000"), 1, r"output 1024x668 = 0.7 megapixels is above the limit of 0.1 MP", absent=("big.png",)),
    Case("stylize-nan-style-weight", (S, "two.pth", PHOTO, "-o", "x.png", "--style-weights", "nan,1"), 2, r"--style-weights must be finite", absent=("x.png",)),
    Case("stylize-inf-style-weight", (S, "two.pth", PHOTO, "-o", "x.png", "--style-weights", "inf,1"), 2, r"--style-weights must be finite"),
    Case("stylize-size-zero", (S, "model.pth", PHOTO, "-o", "x.png", "--size", "0"), 2, r"argument --size: must be in 1\.\.65535, got 0"),
    Case("stylize-strength-out-of-range", (S, "model.pth", PHOTO, "-o", "x.png", "--strength", "2"), 2, r"argument --strength: must be a number in \[0, 1\]"),
    Case("stylize-scale-nan", (S, "model.pth", PHOTO, "-o", "x.png", "--scale", "nan"), 2, r"argument --scale"),
    Case("stylize-negative-tile", (S, "model.pth", PHOTO, "-o", "x.png", "--tile", "-5"), 2, r"argument --tile"),
    Case("stylize-negative-max-pixels", (S, "model.pth", PHOTO, "-o", "x.png", "--max-pixels", "-1"), 2, r"argument --max-pixels"),
    Case("stylize-style-index-out-of-range", (S, "two.pth", PHOTO, "-o", "x.png", "--style-index", "7"), 2, r"--style-index 7 out of range"),
    Case("stylize-missing-cuda", (S, "model.pth", PHOTO, "-o", "x.png", "--device", "cuda:3"), 2, r"cuda|CUDA"),
    Case("stylize-huge-image-above-pillows-limit", (S, "model.pth", "bomb.png", "-o", "b.png"), 1, r"bomb.png: 30000x30000 = 900 megapixels is above the limit of 300 MP", absent=("b.png",)),
    Case("optimize-onto-its-input", (S, "--optimize", "painting.png", PHOTO, "-o", PHOTO, "--steps", "1"), 2, r"colosseum.jpg: is an input"),
    Case("optimize-onto-the-painting", (S, "--optimize", "painting.png", PHOTO, "-o", "painting.png", "--steps", "1"), 2, r"painting.png: is an input"),
    Case("stylize-truncated-jpeg", (S, "model.pth", "truncated.jpg", "-o", "t.png"), 1, r"truncated.jpg: truncated image file", absent=("t.png",)),
    Case("stylize-empty-image", (S, "model.pth", "zero.ppm", "-o", "z.png"), 1, r"zero.ppm: ", absent=("z.png",)),
    Case("stylize-random-bytes-model", (S, "random.pth", PHOTO, "-o", "x.png"), 1, r"random.pth: not a checkpoint"),
    Case("stylize-batch-goes-on-past-a-bad-file", (S, "model.pth", PHOTO, "truncated.jpg", PHOTO2, "-o", "out"), 1, r"of 3 images, 1 could not be read", errors=2, present=("out/colosseum.jpg",)),
    Case("stylize-batch-output-name-is-a-folder", (S, "model.pth", "photos", "-o", "out"), 1, r"of 2 images, 1 could not be written", errors=2, present=("out/gatewayofIndia.jpg",), setup="out_colosseum_is_a_folder"),
    Case("stylize-animated-gif-says-first-frame", (S, "model.pth", "anim.gif", "-o", "anim_out.png"), 0, r"note: .*anim.gif has 3 frames; only the first is stylized", present=("anim_out.png",)),
    Case("stylize-rerun-into-its-own-folder", (S, "model.pth", "photos", "-o", "out"), 0, r"wrote 2 of 2 images", setup="stylized_once"),
    # ---- info: crafted checkpoints fail fast, escapes never reach the terminal -------------------
    Case("info-res-blocks-100000", (INFO, "res_blocks.pth"), 1, r"res_blocks must be an integer in 1\.\.64, got 100000"),
    Case("info-num-styles-300000", (INFO, "num_styles.pth"), 1, r"num_styles must be an integer in 1\.\.1024"),
    Case("info-huge-tensor-shape", (INFO, "bad_shape.pth"), 1, r"tensor 'in1.weight' has shape \(300000, 8\), expected"),
    Case("info-metadata-not-a-dict", (INFO, "bad_metadata.pth"), 1, r"malformed checkpoint: 'metadata' is a list"),
    Case("info-styles-not-a-list", (INFO, "bad_styles.pth"), 1, r"malformed checkpoint: 'metadata.styles'"),
    Case("info-random-bytes", (INFO, "random.pth"), 1, r"random.pth: not a checkpoint \(not a PyTorch file\)$"),
    Case("info-exported-file", (INFO, "exported.onnx"), 1, r"an exported ONNX model"),
    Case("info-strips-terminal-escapes", (INFO, "escape.pth"), 0, r"description: \?\[2J\?\]0;owned\?\?\[31mred"),
    # ---- train: outputs never replace the painting or the data; bad numbers refused at parse time -
    Case("train-onto-the-painting", (T, "--style", "painting.png", *TRAIN, "-o", "painting.png"), 2, r"is an input \(painting.png\)"),
    Case("train-output-inside-data", (T, "--style", "painting.png", *TRAIN, "-o", "data/m.pth"), 2, r"inside the training data"),
    Case("train-foreign-run-dir", (T, "--style", "painting.png", *TRAIN, "-o", "m.pth", "--run-dir", "mine"), 1, r"mine: folder is not empty and was not created by styleport"),
    Case("train-bad-data-leaves-no-run-folder", (T, "--style", "painting.png", "--data", "nonexist", *TRAIN[2:], "-o", "m.pth"), 2, r"nonexist: training data must be a directory", absent=("m.run", "m.pth")),
    Case("train-steps-zero", (T, "--style", "painting.png", *TRAIN, "-o", "m.pth", "--steps", "0"), 2, r"argument --steps"),
    Case("train-lr-nan", (T, "--style", "painting.png", *TRAIN, "-o", "m.pth", "--lr", "nan"), 2, r"argument --lr"),
    Case("train-image-size-huge", (T, "--style", "painting.png", *TRAIN, "-o", "m.pth", "--image-size", "99999"), 2, r"argument --image-size"),
    Case("train-resume-malformed-state", (T, "--style", "painting.png", *TRAIN, "-o", "m.pth", "--steps", "2", "--resume", "bad_state.pth"), 1, r"bad_state.pth: malformed training state"),
    Case("train-truncated-preview-is-skipped", (T, "--style", "painting.png", *TRAIN, "-o", "m.pth", "--steps", "2", "--preview-every", "1", "--log-every", "1"), 0, r"", present=("m.pth", "m.run/previews/step_000002.png")),
    # ---- export: bounded shapes, no writes outside a folder of its own ---------------------------
    Case("export-huge-shapes", (E, "model.pth", "--to", "onnx", "--shapes", "99999999x99999999"), 2, r"--shapes: shape 99999999x99999999 out of range"),
    Case("export-tiny-verify-sizes", (E, "model.pth", "--to", "onnx", "--verify-sizes", "2x2"), 2, r"--verify-sizes: shape 2x2 out of range"),
    Case("export-into-a-file", (E, "model.pth", "--to", "onnx", "-o", "a_file.txt"), 1, r"a_file.txt: exists and is a file"),
    Case("export-into-a-foreign-folder", (E, "model.pth", "--to", "onnx", "-o", "mine"), 1, r"mine: folder is not empty and was not created by styleport"),
    Case("export-unknown-format", (E, "model.pth", "--to", "gif"), 2, r"gif"),
    Case("export-crafted-checkpoint", (E, "num_styles.pth", "--to", "onnx"), 1, r"num_styles must be"),
    Case("export-writes-a-new-folder", (E, "model.pth", "--to", "onnx", "-o", "ex", "--no-verify"), 0, r"onnx +fp32 +ex/model_fp32.onnx", present=("ex/model_fp32.onnx",)),
    # ---- parity ----------------------------------------------------------------------------------
    Case("parity-tiny-sizes", (P, "model.pth", "--sizes", "2x2"), 2, r"--sizes: shape 2x2 out of range"),
    Case("parity-runs-zero", (P, "model.pth", "--runs", "0"), 2, r"argument --runs"),
    Case("parity-foreign-report-folder", (P, "model.pth", "--formats", "onnx", "--precisions", "fp32", "--report", "mine"), 1, r"mine: folder is not empty and was not created by styleport"),
    Case("parity-report-is-a-file", (P, "model.pth", "--formats", "onnx", "--report", "a_file.txt"), 1, r"a_file.txt: exists and is a file"),
    Case("parity-bad-model-leaves-no-report-folder", (P, "random.pth", "--formats", "onnx"), 1, r"random.pth: not a checkpoint", absent=("parity-report",)),
    Case("verify-report-into-a-foreign-folder", ("verify", "model.pth", "exported.onnx", "--report", "mine"), 1, r"mine: folder is not empty and was not created by styleport"),
    Case("verify-missing-artifact-leaves-no-report-folder", ("verify", "model.pth", "nothing.onnx", "--report", "new/rep"), 2, r"nothing.onnx: no such file", absent=("new",)),
    # ---- demo ------------------------------------------------------------------------------------
    Case("demo-build-into-a-foreign-folder", (D, "build", "--models", "model.pth", "-o", "mine"), 1, r"mine: folder is not empty and was not built by styleport"),
    Case("demo-build-onto-a-file", (D, "build", "--models", "model.pth", "-o", "a_file.txt"), 1, r"a_file.txt: exists and is a file"),
    Case("demo-build-onto-a-parent-of-cwd", (D, "build", "--models", "model.pth", "-o", ".."), 1, r"not built by styleport|would replace"),
    Case("demo-build-over-its-models", (D, "build", "--models", "site/model.pth", "-o", "site"), 2, r"would replace a folder holding", setup="model_in_site"),
    Case("demo-serve-port-out-of-range", (D, "serve", "photos", "--port", "99999"), 2, r"argument --port: must be in 0\.\.65535"),
    Case("demo-serve-not-a-site", (D, "serve", "mine"), 2, r"mine: not a built demo site .*-o NEW_FOLDER$"),
    Case("demo-runs-zero", (D, "--runs", "0"), 2, r"argument --runs"),
    Case("demo-into-a-foreign-folder", (D, "-o", "mine", "--no-parity", "--no-site", "--models", "model.pth"), 1, r"mine: folder is not empty and was not created by styleport"),
]  # fmt: skip


def _out_colosseum_is_a_folder(world: Path) -> None:
    (world / "out" / "colosseum.jpg").mkdir(parents=True)
    (world / "out" / "colosseum.jpg" / "keep.txt").write_text("inside a folder named like an output\n")
    (world / "out" / ".styleport-output").write_text("created by styleport\n")


def _stylized_once(world: Path) -> None:
    from styleport.cli import main

    assert main(["stylize", "model.pth", "photos", "-o", "out"]) == 0


def _model_in_site(world: Path) -> None:
    (world / "site").mkdir()
    (world / "site" / ".styleport-output").write_text("created by styleport\n")  # even a site of ours
    (world / "site" / "model.pth").write_bytes((world / "model.pth").read_bytes())


SETUPS = {
    "out_colosseum_is_a_folder": _out_colosseum_is_a_folder,
    "stylized_once": _stylized_once,
    "model_in_site": _model_in_site,
}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, world, cli, capsys):
    if case.setup:
        SETUPS[case.setup](world)
        capsys.readouterr()
    run = cli(list(case.args))
    assert "Traceback" not in run.err, run.err
    assert run.code == case.code, (run.code, run.err[-2000:])
    errors = [line for line in run.err_lines if line.startswith("styleport: error:")]
    assert len(errors) == (case.errors if case.errors is not None else int(case.code != 0)), run.err
    if case.code:
        assert re.search(case.pattern, errors[-1]), errors[-1]
    else:
        assert re.search(case.pattern, run.out + run.err), run.out + run.err
    assert "\x1b" not in run.out + run.err
    assert run.network == [], run.network
    assert run.changed == [], f"pre-existing files changed: {run.changed}"
    assert run.left == [], f"temp folders left behind: {run.left}"
    for path in case.absent:
        assert not (world / path).exists(), path
    for path in case.present:
        assert (world / path).exists(), path


def test_read_only_outputs_fail_in_one_line_before_any_work(world, cli, readonly):
    """stylize, export --to all and parity --report into a folder nobody can write: one line each."""
    target = readonly / "new"
    for args, pattern in (
        (["stylize", "model.pth", PHOTO, "-o", readonly / "x.png"], r"readonly.*: cannot write \(Read-only|Permission"),
        (["stylize", "model.pth", "photos", "-o", target], r"readonly/new: cannot write"),
        (["export", "model.pth", "--to", "all", "-o", target], r"readonly/new: cannot write"),
        (["parity", "model.pth", "--formats", "onnx", "--report", target], r"readonly/new: cannot write"),
        (["demo", "build", "--models", "model.pth", "-o", target], r"readonly.*: cannot write"),
    ):
        run = cli(args)
        assert "Traceback" not in run.err, run.err
        assert run.code == 1 and len(run.err_lines) == 1, run.err
        assert re.search(pattern, run.err_lines[0]), run.err_lines[0]
    assert [p.name for p in readonly.iterdir()] == ["existing.txt"]


def test_demo_build_replaces_only_a_site_it_built(world, cli):
    """A second build may replace the first (it holds the marker); the foreign folder stays refused."""
    args = ["demo", "build", "--models", "model.pth", "--formats", "onnx", "--no-verify", "-o", "site"]
    first = cli(args)
    assert first.code == 0, first.err
    assert (world / "site" / ".styleport-output").is_file() and (world / "site" / "models.json").is_file()
    (world / "site" / "models.json").write_text("{}")  # replaced as a whole by the second build
    second = cli(args)
    assert second.code == 0 and second.changed == ["site/models.json"], (second.err, second.changed)
    assert second.left == []


def test_a_truncated_jpeg_chosen_as_preview_is_skipped_and_counted(world, cli):
    """data/aaa_truncated.jpg sorts first, so it is the first default preview photo."""
    run = cli(["train", "--style", "painting.png", *TRAIN, "-o", "m.pth", "--steps", "1", "--log-every", "1"])
    assert run.code == 0 and run.err_lines == [], run.err
    rows = (world / "m.run" / "log.jsonl").read_text().splitlines()
    assert '"skipped_files": 1' in rows[-1]


def test_verify_of_a_broken_mlpackage_prints_its_one_line_alone(world):
    """coremltools (and TensorFlow, which it imports) print warnings and native log lines at import: a
    fresh process (imports happen once per process) must show only styleport's error line."""
    import subprocess
    import sys

    pytest.importorskip("coremltools")
    (world / "fake.mlpackage").mkdir()
    env = {**os.environ, "STYLEPORT_CACHE": str(world / "cache")}
    run = subprocess.run(
        [sys.executable, "-m", "styleport", "verify", "model.pth", "fake.mlpackage"],
        cwd=world, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2, run.stderr
    assert len(lines) == 1 and "fake.mlpackage: unreadable .mlpackage" in lines[0], run.stderr
