"""styleport: fast neural style transfer you can ship.

>>> import styleport
>>> net = styleport.load("model.pth")
>>> out = net.stylize(PIL.Image.open("photo.jpg"))
>>> styleport.verify("model.pth", ["model_fp16.onnx"]).passed   # an existing file vs the model
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

# No network at run time: ONNX Runtime reads this when it is imported (see styleport/quiet.py).
os.environ["ORT_DISABLE_TELEMETRY"] = "1"


def load(path, device: str = "auto", precision: str = "fp32", engine: str = "torch"):
    """Load a model file: a :class:`styleport.stylize.Stylizer` (torch), or with
    ``engine="onnxruntime"`` a :class:`styleport.light.LightStylizer` (fp32 on the CPU, no torch
    import; ``styleport.light.NotLight`` says why a file or request does not fit it)."""
    from styleport.errors import UsageError

    if engine == "onnxruntime":
        from styleport.light import LightStylizer

        if device not in ("auto", "cpu") or precision not in ("auto", "fp32"):
            raise UsageError(f"engine onnxruntime runs fp32 on the CPU, not device={device} precision={precision}")
        return LightStylizer(path)
    if engine != "torch":
        raise UsageError(f"unknown engine '{engine}' (torch or onnxruntime)")
    from styleport.stylize import Stylizer

    return Stylizer.from_file(path, device=device, precision=precision)


def verify(model, artifacts, **options):
    """Verify existing artifacts against a checkpoint: see :func:`styleport.verification.api.verify`."""
    from styleport.verification.api import verify as run

    return run(model, artifacts, **options)


__all__ = ["__version__", "load", "verify"]
