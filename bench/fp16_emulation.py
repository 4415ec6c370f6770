"""Can an fp16 row catch instance-norm eps x100? Measures why the catch table calls it inseparable.

    python bench/fp16_emulation.py [--model MODEL.pth] [--sizes 48x64,37x53] [--json OUT.json]

The int8 rows catch subtle faults with a second, quantization-emulated reference (styleport.
verification.emulate). This bench asks whether the same trick works for fp16 ONNX files in ONNX
Runtime: it exports the network to fp16 ONNX (the exporter's own path), runs it in ONNX Runtime on
the test photos and prints, worst case over the photos (PSNR dB / max abs on 0..255):

- right fp16 artifact vs the float64 reference (``styleport.reference``): what the fp16 row sees;
- right fp16 artifact vs an fp16 emulation (torch: weights rounded to fp16 and the output of every
  op -- conv, norm, ReLU, residual add, depth-to-space -- rounded to fp16);
- the fault alone: reference with eps 1e-3 vs reference with eps 1e-5;
- the faulty artifact (right artifact + the fault's effect) vs the reference, and vs the emulation.

If the fault alone is smaller than the right artifact's own distance under both references, no row
can tell them apart without failing right files: the cell is "inseparable".
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from styleport import checkpoints, reference
from styleport.export.calibration import images_at
from styleport.parity.command import parse_sizes

ROOT = Path(__file__).resolve().parents[1]


def fp16_emulation(model: torch.nn.Module) -> torch.nn.Module:
    """The sub-pixel network (as the fp16 export) with fp16 weights and every op's output rounded to fp16."""
    from styleport.subpixel import fuse

    net = fuse(copy.deepcopy(model)).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(p.half().float())

    def round_output(_module, _args, y):
        return y.half().float() if isinstance(y, torch.Tensor) else y

    for name, module in net.named_modules():
        if name and (not list(module.children()) or type(module).__name__ == "ResidualBlock"):
            module.register_forward_hook(round_output)  # leaf ops, and the residual sum
    return net


def psnr(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    mse = float(((a - b) ** 2).mean())
    return 10 * np.log10(255.0**2 / max(mse, 1e-30)), float(np.abs(a - b).max())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "styleport" / "data" / "models" / "great_wave.pth")
    ap.add_argument("--sizes", default="48x64,37x53")
    ap.add_argument("--json", type=Path, help="also write the worst cases as JSON (bench/fault_catch.py quotes them)")
    args = ap.parse_args(argv)

    import onnx
    import onnxruntime as ort

    from styleport.export.onnx import to_fp16, torch_to_onnx

    model = checkpoints.load(args.model).build("cpu").eval()
    weights = reference.read_weights(args.model)
    emulated = fp16_emulation(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fp16.onnx"
        onnx.save(to_fp16(torch_to_onnx(model)), str(path))
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        photos = sorted((ROOT / "tests" / "fixtures" / "photos").glob("*.jpg"))
        sizes = parse_sizes(args.sizes)
        images = images_at(photos, [s for s in sizes for _ in photos])
        rows = []
        for img in images:
            x = np.asarray(img, np.float32).transpose(2, 0, 1)[None]  # (H,W,3) -> (1,3,H,W)
            art = session.run(None, {name: x})[0][0].transpose(1, 2, 0).astype(np.float64)  # -> (H,W,3)
            ref = reference.forward(weights, np.asarray(img, np.float64))
            faulty_ref = reference.forward(weights, np.asarray(img, np.float64), eps=1e-3)
            with torch.no_grad():
                emu = emulated(torch.from_numpy(x))[0].permute(1, 2, 0).double().numpy()  # (3,H,W) -> (H,W,3)
            faulty = np.clip(art + faulty_ref - ref, 0, 255)
            rows.append((psnr(art, ref), psnr(art, emu), psnr(faulty_ref, ref), psnr(faulty, ref), psnr(faulty, emu)))
    labels = (
        "right fp16 artifact vs reference",
        "right fp16 artifact vs fp16 emulation",
        "fault alone (eps 1e-3 vs 1e-5, reference)",
        "faulty artifact vs reference",
        "faulty artifact vs fp16 emulation",
    )
    worst = {label: (min(r[i][0] for r in rows), max(r[i][1] for r in rows)) for i, label in enumerate(labels)}
    print(f"{args.model.name}, onnxruntime {ort.__version__}, {len(images)} cases at {args.sizes}; worst case:")
    print("| comparison | worst PSNR dB | worst max abs |")
    print("|---|---|---|")
    for label, (db, abs_) in worst.items():
        print(f"| {label} | {db:.1f} | {abs_:.3g} |")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model.name, "cases": len(images), "worst": worst}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
