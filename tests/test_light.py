"""The torch-free engine (styleport/light.py) against torch fp32 and the float64 reference."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from styleport import checkpoints, reference
from styleport.errors import UsageError
from styleport.light import LightStylizer, NotLight, build_graph, read_checkpoint
from styleport.metrics import psnr
from styleport.stylize import Stylizer
from tests.conftest import PHOTOS, assert_contrast, make_net

pytest.importorskip("onnxruntime")

MODELS = Path(__file__).resolve().parents[1] / "styleport" / "data" / "models"
# Measured on the bundled great_wave / trio at 96 px: max abs 4.6e-4..6.0e-4, 127 dB (fp32 rounding
# order only); with the output conv scaled by 1.02: max abs 2.5, 47-48 dB.
MAX_ABS, MIN_PSNR = 0.02, 100.0


def photo(side: int = 96) -> np.ndarray:
    im = Image.open(PHOTOS[0]).convert("RGB")
    im.thumbnail((side, side), Image.Resampling.LANCZOS)
    return np.asarray(im, dtype=np.float32)  # (H,W,3)


def torch_fp32(path: Path, image: np.ndarray, mix: np.ndarray | None = None) -> np.ndarray:
    net = Stylizer.from_file(path, device="cpu", precision="fp32")
    x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None]  # (H,W,3) -> (1,3,H,W)
    sw = None if mix is None else torch.tensor(mix, dtype=torch.float32)[None]  # (S,) -> (1,S)
    return net.run_tensor(x, sw)[0].permute(1, 2, 0).numpy()  # (1,3,H,W) -> (H,W,3)


def assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert_contrast(want, what)
    err = float(np.abs(got - want).max())
    assert err <= MAX_ABS and psnr(got, want) >= MIN_PSNR, f"{what}: max abs {err:.4g}, {psnr(got, want):.1f} dB"


@pytest.mark.parametrize("model, mix", [("great_wave", None), ("trio", np.array([0.6, 0.0, 0.4]))])
def test_matches_torch_and_the_independent_reference(model, mix):
    path = MODELS / f"{model}.pth"
    image = photo()
    got = LightStylizer(path).run_array(image, mix)
    assert_close(got, torch_fp32(path, image, mix), f"{model} vs torch fp32")
    want = reference.forward(reference.read_weights(path), image, mix)
    assert_close(got, want.astype(np.float32), f"{model} vs the float64 reference")


def test_the_comparison_catches_a_wrong_weight_and_a_wrong_mix():
    path = MODELS / "trio.pth"
    image, mix = photo(64), np.array([1.0, 0.0, 0.0])
    want = torch_fp32(path, image, mix)
    light = LightStylizer(path)
    with pytest.raises(AssertionError, match="max abs"):
        assert_close(light.run_array(image, np.array([0.0, 1.0, 0.0])), want, "another style")
    light.weights["deconv3.conv2d.weight"] = light.weights["deconv3.conv2d.weight"] * 1.02
    with pytest.raises(AssertionError, match="max abs"):
        assert_close(light.run_array(image, mix), want, "output conv x1.02")


def run_graph(weights: dict, image: np.ndarray, subpixel: bool, output_phases: bool = True) -> np.ndarray:
    import onnxruntime as ort

    graph = build_graph(weights, None, subpixel=subpixel, output_phases=output_phases)
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    y = session.run(None, {"image": np.ascontiguousarray(image.transpose(2, 0, 1)[None])})[0]  # (H,W,3) -> (1,3,H,W)
    return y[0, :, : image.shape[0], : image.shape[1]].transpose(1, 2, 0)  # (1,3,H',W') -> (H,W,3)


def test_every_graph_form_matches_torch_and_a_wrong_upsampling_tap_fails():
    """The rewritten graph (what runs), and without the output-conv or the upsampling rewrites
    (bench/infer_latency.py's comparison)."""
    path = MODELS / "great_wave.pth"
    image = photo(61)  # odd sides: the crop after depth-to-space must be right
    want = torch_fp32(path, image)
    weights = read_checkpoint(path)[0]
    for subpixel, phases in [(True, True), (True, False), (False, False)]:
        got = np.clip(run_graph(weights, image, subpixel, phases), 0, 255)
        assert_close(got, want, f"subpixel={subpixel} output_phases={phases}")
    wrong = weights["deconv2.conv2d.weight"].copy()
    wrong[:, :, 0, :] *= 1.05  # one row of taps of the last upsampling conv
    with pytest.raises(AssertionError, match="max abs"):
        faulty = {**weights, "deconv2.conv2d.weight": wrong}
        assert_close(np.clip(run_graph(faulty, image, True), 0, 255), want, "deconv2 top row x1.05")


def test_tiny_and_odd_sizes_match_torch(tiny_model_file):
    for h, w in [(3, 5), (9, 13), (37, 53)]:
        image = np.random.default_rng(h).uniform(0, 255, (h, w, 3)).astype(np.float32)
        got, want = LightStylizer(tiny_model_file).run_array(image), torch_fp32(tiny_model_file, image)
        assert got.shape == want.shape == (h, w, 3)
        assert float(np.abs(got - want).max()) <= MAX_ABS


def test_stylize_options_act_as_on_the_torch_engine(two_style_model_file):
    from styleport.stylize_options import StylizeOptions

    im = Image.open(PHOTOS[1]).convert("RGB")
    for options in [
        StylizeOptions(size=80, style_weights=(1, 3)),
        StylizeOptions(scale=0.2, keep_colors=True, strength=0.5),
    ]:
        light = np.asarray(LightStylizer(two_style_model_file).stylize(im, options), dtype=np.int16)
        heavy = np.asarray(Stylizer.from_file(two_style_model_file, device="cpu").stylize(im, options), dtype=np.int16)
        assert light.shape == heavy.shape
        assert np.abs(light - heavy).max() <= 1, options  # 8-bit rounding of a ~1e-4 difference


def test_the_reader_refuses_what_it_is_not_sure_of(tmp_path, tiny_model_file):
    weights, meta = read_checkpoint(tiny_model_file)
    assert meta["style_names"] == ["tiny"] and weights["conv1.conv2d.weight"].dtype == np.float32
    examples = tmp_path / "examples.pth"  # a pytorch/examples state_dict (DataParallel prefix, 2017 buffers)
    state = {f"module.{k}": v for k, v in make_net().state_dict().items()}
    state["module.in1.running_mean"] = torch.zeros(8)
    torch.save(state, examples)
    theirs, _ = read_checkpoint(examples)
    assert set(theirs) == set(weights) and all(np.array_equal(theirs[k], weights[k]) for k in weights)
    foreign = tmp_path / "foreign.pth"
    torch.save({"format": "other", "state_dict": state}, foreign)
    bad_weight = make_net()
    with torch.no_grad():
        bad_weight.conv2.conv2d.weight[0, 0, 0, 0] = float("nan")
    nan = checkpoints.save(tmp_path / "nan.pth", bad_weight, {})
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(tiny_model_file.read_bytes()[:3000])
    extra = tmp_path / "extra.pth"
    obj = torch.load(tiny_model_file, weights_only=True)
    obj["state_dict"]["conv9.conv2d.weight"] = torch.zeros(3)
    torch.save(obj, extra)
    shape = tmp_path / "shape.pth"
    obj = torch.load(tiny_model_file, weights_only=True)
    obj["state_dict"]["in2.weight"] = torch.zeros(5)
    torch.save(obj, shape)
    for path, reason in [
        (foreign, "neither a styleport format 1 checkpoint nor a pytorch/examples state_dict"),
        (nan, "non-finite"),
        (truncated, "unreadable here"),
        (extra, "names do not match"),
        (shape, "in2: unexpected shape"),
        (tmp_path / "missing.pth", "unreadable here"),
    ]:
        with pytest.raises(NotLight, match=reason):
            read_checkpoint(path)


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    code = "import sys; from styleport.cli import main; rc = main(sys.argv[1:]); print('torch' in sys.modules); sys.exit(rc)"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)


def test_the_cli_stylizes_a_small_photo_without_importing_torch(tmp_path):
    out = tmp_path / "out.png"
    model = str(MODELS / "great_wave.pth")
    small = run_cli("--verbose", "stylize", model, str(PHOTOS[0]), "-o", str(out), "--size", "64")
    assert small.returncode == 0, small.stderr
    assert small.stdout.strip().endswith("False"), "torch was imported"
    assert "engine onnxruntime" in small.stderr
    forced = run_cli("--verbose", "stylize", model, str(PHOTOS[0]), "-o", str(tmp_path / "t.png"), "--size", "64",
                     "--engine", "torch")  # fmt: skip
    assert forced.returncode == 0 and forced.stdout.strip().endswith("True")
    a, b = (np.asarray(Image.open(p), dtype=np.int16) for p in (out, tmp_path / "t.png"))
    assert_contrast(b.astype(np.float32), "torch output")
    assert np.abs(a - b).max() <= 1


def test_the_cli_falls_back_to_torch_or_refuses_with_a_reason(tmp_path):
    model, src = str(MODELS / "great_wave.pth"), str(PHOTOS[0])
    tiled = run_cli("--verbose", "stylize", model, src, "-o", str(tmp_path / "a.png"), "--size", "64", "--tile", "32")
    assert tiled.returncode == 0 and "engine: torch (--tile)" in tiled.stderr
    refused = run_cli(
        "stylize", model, src, "-o", str(tmp_path / "b.png"), "--engine", "onnxruntime", "--precision", "bf16"
    )
    assert refused.returncode == 2 and not (tmp_path / "b.png").exists()
    assert refused.stderr.strip().splitlines() == [
        "styleport: error: --engine onnxruntime cannot run this: --precision bf16 (use --engine torch or auto)"
    ]
    broken = tmp_path / "broken.pth"
    broken.write_bytes((MODELS / "great_wave.pth").read_bytes()[:5000])
    bad = run_cli("stylize", str(broken), src, "-o", str(tmp_path / "c.png"))
    assert bad.returncode == 1 and f"{broken}: not a readable PyTorch checkpoint" in bad.stderr  # torch path
    assert not (tmp_path / "c.png").exists()


def choice(monkeypatch, tmp: Path, count: int, side: int, bf16: tuple[str, ...] = (), gpu: str | None = None, **flags):
    """light_choice for COUNT photos of SIDE x SIDE px on a CPU with these bf16 flags / GPU hint."""
    import argparse

    from styleport import commands, precision
    from styleport.stylize_options import StylizeOptions

    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: bf16)
    monkeypatch.setattr(commands, "gpu_hint", lambda: gpu)
    photos = []
    for i in range(count):
        photos.append(tmp / f"p{i}.png")
        Image.new("RGB", (side, side)).save(photos[-1])
    args = argparse.Namespace(**{"device": "auto", "precision": "auto", "engine": "auto", **flags})
    return commands.light_choice(args, photos, StylizeOptions())


def test_auto_picks_onnxruntime_for_small_images_and_for_cpus_without_bf16(monkeypatch, tmp_path):
    def c(*a, **k):
        return choice(monkeypatch, tmp_path, *a, **k)

    assert c(1, 512, bf16=("avx512_bf16",)) == (
        True,
        "engine onnxruntime: one image up to 1 MP, no torch start-up",
    )
    big_bf16 = c(1, 1100, bf16=("avx512_bf16",))
    assert big_bf16 == (False, "1.2 MP (above 1 MP): torch bf16 is faster on this CPU (avx512_bf16)")
    assert c(1, 1100, bf16=("avx512_bf16",), precision="fp32")[0]  # fp32 asked for: ORT's is faster
    assert c(1, 1100) == (
        True,
        "engine onnxruntime: 1.2 MP (above 1 MP) on a CPU without native bf16, where it is faster than torch fp32",
    )
    assert c(1, 2100) == (False, "4.4 MP: above 4 MP torch is faster")
    assert c(3, 64)[0] and "several images on a CPU without native bf16" in c(3, 64)[1]
    assert c(3, 64, gpu="an NVIDIA driver") == (False, "several images: an NVIDIA driver may give torch a GPU")
    assert c(3, 64, gpu="an NVIDIA driver", device="cpu")[0]
    assert c(1, 64, device="cuda") == (False, "--device cuda")
    assert c(1, 64, precision="bf16") == (False, "--precision bf16")


def test_an_output_too_large_for_memory_is_refused_with_orts_larger_peak(tiny_model_file, monkeypatch):
    import styleport.stylize_options
    from styleport.errors import ImageError
    from styleport.stylize_options import forward_bytes

    weights, _ = read_checkpoint(tiny_model_file)
    c1, c2 = weights["conv1.conv2d.weight"].shape[0], weights["conv2.conv2d.weight"].shape[0]
    torch_need = forward_bytes(c1, c2, 2000, 1000)
    monkeypatch.setattr(styleport.stylize_options, "host_available_bytes", lambda: int(torch_need * 1.2))
    light = LightStylizer(tiny_model_file)
    with pytest.raises(ImageError, match=r"stylizing at 2000x1000 needs about [\d.]+ GiB"):  # torch's path would run
        light.stylize(Image.new("RGB", (200, 100)), size=2000)
    light.stylize(Image.new("RGB", (200, 100)), size=200)


def test_the_python_api_offers_the_engine_without_importing_torch(tmp_path):
    code = (
        "import sys, numpy as np, styleport; from PIL import Image\n"
        f"net = styleport.load({str(MODELS / 'trio.pth')!r}, engine='onnxruntime')\n"
        f"out = net.stylize(Image.open({str(PHOTOS[0])!r}), size=64, style_weights=(1, 0, 1))\n"
        f"out.save({str(tmp_path / 'api.png')!r}); print(net.style_names, 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["['starry_night',", "'great_wave',", "'composition_viii']", "False"]
    import styleport

    torch_net = styleport.load(MODELS / "trio.pth", device="cpu")
    want = np.asarray(torch_net.stylize(Image.open(PHOTOS[0]), size=64, style_weights=(1, 0, 1)), dtype=np.int16)
    got = np.asarray(Image.open(tmp_path / "api.png"), dtype=np.int16)
    assert_contrast(want.astype(np.float32), "torch output")
    assert np.abs(got - want).max() <= 1

    with pytest.raises(UsageError, match="engine onnxruntime runs fp32 on the CPU, not device=auto precision=bf16"):
        styleport.load(MODELS / "trio.pth", precision="bf16", engine="onnxruntime")
