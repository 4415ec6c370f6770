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


def load(path, device: str = "auto", precision: str = "fp32"):
    """Load a model file and return a :class:`styleport.stylize.Stylizer`."""
    from styleport.stylize import Stylizer

    return Stylizer.from_file(path, device=device, precision=precision)


def verify(model, artifacts, **options):
    """Verify existing artifacts against a checkpoint: see :func:`styleport.verification.api.verify`."""
    from styleport.verification.api import verify as run

    return run(model, artifacts, **options)


__all__ = ["__version__", "load", "verify"]
