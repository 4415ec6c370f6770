"""Temporal stability without video data: ``styleport train --temporal-weight W``.

A frame of a video and the next one differ by a small motion plus sensor noise. For each training
crop ``x`` we make such a "next frame" ourselves: ``x2 = A(x) + n``, with ``A`` a small random
affine warp (shift, rotation, zoom) and ``n`` Gaussian noise, and ask the network to commute with
the motion: ``net(x2) == A(net(x))`` on the pixels ``A`` maps from inside the crop. (Gupta et al.
2017 ask for stability under noise; Huang et al. 2017 under optical-flow warps between real
frames; a synthetic affine warp gives the second without video.)

The term is a relative squared error like the other losses (losses.py): the masked MSE between
``net(x2)`` and ``A(net(x))`` divided by the (detached) variance of ``net(x)``, so W means the same
for any painting's contrast. Both branches get gradients. The warps are a pure function of
(seed, sample number), so a resumed run draws the same ones (loop.py's determinism contract).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F


@dataclasses.dataclass(frozen=True)
class WarpConfig:
    shift: float = 4.0  # max translation, px (uniform in [-shift, shift] per axis)
    rotate: float = 2.0  # max rotation, degrees
    zoom: float = 0.03  # max relative scale change
    noise: float = 4.0  # std of added Gaussian noise, in 0..255 units


def _generator(seed: int, number: int) -> torch.Generator:
    # One stream per (seed, first sample number of the batch): identical across resume and DDP ranks.
    return torch.Generator().manual_seed((seed * 1_000_003 + number * 7919 + 12345) % (2**63 - 1))


def random_affine(batch: int, h: int, w: int, gen: torch.Generator, cfg: WarpConfig) -> torch.Tensor:
    """(B,2,3) ``affine_grid`` matrices (normalised coordinates) of random small motions."""
    u = torch.rand(batch, 4, generator=gen) * 2 - 1  # (B,4) in [-1,1]
    angle = u[:, 0] * math.radians(cfg.rotate)
    scale = 1.0 + u[:, 1] * cfg.zoom
    tx, ty = u[:, 2] * cfg.shift * 2 / w, u[:, 3] * cfg.shift * 2 / h  # px -> normalised [-1,1] units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    aspect = h / w  # rotation in pixel space, expressed in normalised coordinates
    theta = torch.stack(
        [torch.stack([cos, -sin * aspect, tx], 1), torch.stack([sin / aspect, cos, ty], 1)], 1
    )  # (B,2,3)
    return theta


def warp(x: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear warp of (B,C,H,W) by (B,2,3) -> (warped (B,C,H,W) fp32, valid mask (B,1,H,W))."""
    b, _, h, w = x.shape
    grid = F.affine_grid(theta.to(x.device, torch.float32), [b, 1, h, w], align_corners=False)  # (B,H,W,2)
    warped = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    inside = (grid.abs() <= 1 - 2 / min(h, w)).all(dim=-1, keepdim=True)  # (B,H,W,1): sampled from within
    return warped, inside.permute(0, 3, 1, 2).float()  # (B,H,W,1) -> (B,1,H,W)


def make_pair(x: torch.Tensor, seed: int, number: int, cfg: WarpConfig = WarpConfig()):
    """The synthetic next frames of batch ``x`` (B,3,H,W) 0..255: (x2, theta, mask)."""
    b, _, h, w = x.shape
    gen = _generator(seed, number)
    theta = random_affine(b, h, w, gen, cfg)
    noise = torch.randn(x.shape, generator=gen) * cfg.noise
    x2, mask = warp(x, theta)
    x2 = (x2 + noise.to(x.device)).clamp(0, 255)
    if x.is_contiguous(memory_format=torch.channels_last) and x.dim() == 4:
        x2 = x2.contiguous(memory_format=torch.channels_last)
    return x2, theta, mask


def temporal_loss(y: torch.Tensor, y2: torch.Tensor, theta: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Relative masked MSE between ``y2 = net(x2)`` and ``A(y)``; (B,3,H,W) each -> scalar fp32."""
    target, _ = warp(y, theta)
    diff = (y2.float() - target).pow(2) * mask  # (B,3,H,W)
    mse = diff.sum() / (mask.sum() * y.shape[1]).clamp_min(1.0)
    return mse / y.detach().float().var().clamp_min(1e-6)
