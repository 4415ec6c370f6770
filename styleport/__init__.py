"""styleport: fast neural style transfer you can ship.

>>> import styleport
>>> net = styleport.load("model.pth")
>>> out = net.stylize(PIL.Image.open("photo.jpg"))
"""

from __future__ import annotations

__version__ = "0.1.0"


def load(path, device: str = "auto", precision: str = "fp32"):
    """Load a model file and return a :class:`styleport.stylize.Stylizer`."""
    from styleport.stylize import Stylizer

    return Stylizer.from_file(path, device=device, precision=precision)


__all__ = ["__version__", "load"]
