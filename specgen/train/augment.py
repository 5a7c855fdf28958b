"""Augmentation on the device, on whole uint8 batches: random crop with padding, horizontal flip."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def padding(resolution: int) -> int:
    """4 pixels at 32 px (the CIFAR convention), in proportion elsewhere."""
    return max(1, resolution // 8)


def crop_flip(x: torch.Tensor, gen: torch.Generator, flip: bool) -> torch.Tensor:
    """Each image of (B, C, H, W) shifted by up to `padding` pixels (zero fill), mirrored half the time."""
    b, c, h, w = x.shape
    pad = padding(h)
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b, 1), generator=gen, device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (b, 1), generator=gen, device=x.device)
    rows = (dy + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx + torch.arange(w, device=x.device))[:, None, None, :]
    images = torch.arange(b, device=x.device)[:, None, None, None]
    channels = torch.arange(c, device=x.device)[None, :, None, None]
    out = padded[images, channels, rows, cols]
    if flip:
        mirror = torch.rand(b, generator=gen, device=x.device) < 0.5
        out = torch.where(mirror[:, None, None, None], out.flip(3), out)
    return out
