"""Stand-in networks for tests and benchmarks, where no trained model is wanted.

A fresh ``TransformerNet`` outputs values near 0, which the output clamp turns black, so every
export or runtime would "match" it trivially. Both recipes here randomise the instance-norm affine
parameters as well and centre the output conv on mid-grey, so the output spans 0..255 like a real
style network's and parity numbers mean something. (Two recipes because the export/parity
tolerance rows were measured on ``image_like_net`` and the foundation tests on ``stand_in_net``.)
"""

from __future__ import annotations

import torch

from styleport.model import ModelConfig, TransformerNet


def stand_in_net(width: float = 0.25, num_styles: int = 1, seed: int = 0) -> TransformerNet:
    """A seeded random-init network (eval mode) with image-like output."""
    torch.manual_seed(seed)
    net = TransformerNet(ModelConfig(width=width, num_styles=num_styles))
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "conv2d" not in name:  # norm affines: gamma ~ 1 + 0.3 N(0,1), beta ~ 0.3 N(0,1)
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.3 * torch.randn_like(p))
        net.deconv3.conv2d.weight.mul_(20.0)
        net.deconv3.conv2d.bias.add_(127.0)
    return net.eval()


def image_like_net(num_styles: int = 1, seed: int = 0, width: float = 0.25) -> TransformerNet:
    """A seeded random-init network (eval mode): norm affines perturbed by 0.3 N(0,1), output conv x40 around 128."""
    torch.manual_seed(seed)
    net = TransformerNet(ModelConfig(width=width, num_styles=num_styles)).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("in") or ".in" in name:
                p.add_(torch.randn_like(p) * 0.3)
        net.deconv3.conv2d.weight.mul_(40.0)
        net.deconv3.conv2d.bias.fill_(128.0)
    return net
