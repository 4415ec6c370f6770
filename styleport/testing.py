"""Stand-in networks for tests and benchmarks, where no trained model is wanted.

A fresh ``TransformerNet`` outputs values near 0, which the output clamp turns black, so every
export or runtime would "match" it trivially. A stand-in must instead have the output contrast of
a trained style network, or lossy tolerance rows cannot tell a right artifact from garbage (with
the old recipes, std 7-13 on photos, a 5x5 blur of the reference passed the palette4 row and a
constant grey image missed the 30 dB row by < 1 dB). The recipe here:

- instance-norm affines randomised (gamma ~ 1 + 0.3 N(0,1), beta ~ 0.3 N(0,1)), so styles differ;
- the output conv made zero-mean per output channel (constant feature offsets cancel, so the
  colour mean sits at the bias, mid-grey) and scaled to L2 norm ``OUTPUT_NORM`` per channel.

Measured on the fixture photos at 37x53 to 72x96: output std >= 53 for seeds 0-3 and 21-25, widths
0.25 and 1.0, one and two styles (a trained network: 55-62; styleport/data/models/great_wave.pth),
with at most ~13% of pixels clamped. Tests guard this with ``tests.conftest.assert_contrast``.
"""

from __future__ import annotations

import torch

from styleport.model import ModelConfig, TransformerNet

OUTPUT_NORM = 120.0  # per-output-channel L2 norm of the output conv's weights


def stand_in_net(width: float = 0.25, num_styles: int = 1, seed: int = 0) -> TransformerNet:
    """A seeded random-init network (eval mode) whose output has a trained network's contrast."""
    torch.manual_seed(seed)
    net = TransformerNet(ModelConfig(width=width, num_styles=num_styles))
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "conv2d" not in name:  # norm affines: gamma ~ 1 + 0.3 N(0,1), beta ~ 0.3 N(0,1)
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.3 * torch.randn_like(p))
        w = net.deconv3.conv2d.weight  # (3, C, 9, 9)
        w.sub_(w.mean(dim=(1, 2, 3), keepdim=True))
        w.mul_(OUTPUT_NORM / w.flatten(1).norm(dim=1)[:, None, None, None])
        net.deconv3.conv2d.bias.fill_(128.0)
    return net.eval()


def image_like_net(num_styles: int = 1, seed: int = 0, width: float = 0.25) -> TransformerNet:
    """``stand_in_net`` with the argument order the export and parity tests use."""
    return stand_in_net(width, num_styles, seed)


def trained_net(num_styles: int = 1, seed: int = 0) -> TransformerNet:
    """The bundled trained great_wave network (width 0.5), for tests of lossy formats.

    Random-init networks are far more sensitive to weight perturbations than trained ones (0.5% weight
    noise: 35-43 dB vs 54.2 dB on great_wave), so int8/uint8/palette/fp16 artifacts of a stand-in land
    15-20 dB below the tolerance rows, which are set from trained networks (styleport/tolerances.py).
    With ``num_styles`` > 1: a conditional-instance-norm network with great_wave's convs, style 0 its
    norm affines and each further style those affines perturbed by a seeded 10% (gamma) / 0.1 (beta).
    """
    from styleport import checkpoints
    from styleport.images import SAMPLES_DIR

    net = checkpoints.load(SAMPLES_DIR.parent / "models" / "great_wave.pth").build()
    if num_styles == 1:
        return net
    multi = TransformerNet(ModelConfig(width=net.config.width, num_styles=num_styles))
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in net.state_dict().items():
        if ".in" in key or key.startswith("in"):
            rows = [value]
            for _ in range(1, num_styles):
                noise = torch.randn(value.shape, generator=gen)
                rows.append(value * (1 + 0.1 * noise) if key.endswith("weight") else value + 0.1 * noise)
            value = torch.stack(rows)  # (C,) -> (S,C)
        state[key] = value
    multi.load_state_dict(state)
    return multi.eval()
