"""The int8 student's transforms: g_a / g_s with per-stage widths, pruned from the teacher.

Structured pruning removes whole channels of one GDN stage: the rows of the
convolution before it (for a sub-pixel convolution, the four rows that make
each channel after depth-to-space), the rows and columns of its gamma, its
beta, and the input channels of the convolution after it. A channel's
importance is its mean energy after the GDN times the energy of the next
convolution's weights on it, on training crops. What a dropped channel gave
on average is folded back: its mean input energy into the other channels'
beta, its mean output into the next convolution's bias. Fine-tuning
(``training/qat.py``) recovers the rest.

Stage widths are listed from the pixels inwards for g_a and from the latents
outwards for g_s, as in ``LatentzipNet`` (N, N, N): ``outer`` prunes the stage
next to the pixels, the most expensive one (full and half resolution).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from training.model import GDN, LatentzipNet, SubpixelUp, conv

PEDESTAL = 2.0**-18


def analysis(widths: tuple[int, int, int], M: int) -> nn.Sequential:
    n1, n2, n3 = widths
    return nn.Sequential(conv(3, n1), GDN(n1), conv(n1, n2), GDN(n2), conv(n2, n3), GDN(n3), conv(n3, M))


def synthesis(widths: tuple[int, int, int], M: int) -> nn.Sequential:
    n1, n2, n3 = widths
    return nn.Sequential(
        SubpixelUp(M, n1),
        GDN(n1, inverse=True),
        SubpixelUp(n1, n2),
        GDN(n2, inverse=True),
        SubpixelUp(n2, n3),
        GDN(n3, inverse=True),
        SubpixelUp(n3, 3),
    )


def widths_of(seq: nn.Sequential) -> tuple[int, int, int]:
    return tuple(int(m.beta.shape[0]) for m in seq if isinstance(m, GDN))  # type: ignore[return-value]


def _conv_of(layer: nn.Module) -> tuple[nn.Conv2d, int]:
    """The convolution of a layer and how many of its rows make one channel (4 after depth-to-space)."""
    if isinstance(layer, SubpixelUp):
        return layer[0], 4
    if not isinstance(layer, nn.Conv2d):
        raise TypeError(f"expected a convolution next to a GDN, got {type(layer).__name__}")
    return layer, 1


@torch.no_grad()
def stage_stats(seq: nn.Sequential, inputs: list[Tensor]) -> list[dict[str, Tensor]]:
    """Per GDN: mean square of its input, mean and mean square of its output, per channel."""
    gdns = [m for m in seq if isinstance(m, GDN)]
    sums = [{"in_sq": 0.0, "out": 0.0, "out_sq": 0.0, "n": 0} for _ in gdns]
    hooks = []
    for k, g in enumerate(gdns):

        def hook(module, args, out, k=k):
            x = args[0].float()
            s = sums[k]
            s["in_sq"] = s["in_sq"] + (x * x).sum((0, 2, 3))
            s["out"] = s["out"] + out.float().sum((0, 2, 3))
            s["out_sq"] = s["out_sq"] + (out.float() ** 2).sum((0, 2, 3))
            s["n"] += x.shape[0] * x.shape[2] * x.shape[3]

        hooks.append(g.register_forward_hook(hook))
    try:
        for x in inputs:
            seq(x)
    finally:
        for h in hooks:
            h.remove()
    return [{k: v / s["n"] for k, v in s.items() if k != "n"} for s in sums]


@torch.no_grad()
def prune_stage(seq: nn.Sequential, stage: int, width: int, stats: dict[str, Tensor]) -> nn.Sequential:
    """A copy of ``seq`` whose GDN number ``stage`` keeps its ``width`` most important channels."""
    seq = copy.deepcopy(seq)
    gdn_positions = [i for i, m in enumerate(seq) if isinstance(m, GDN)]
    pos = gdn_positions[stage]
    gdn: GDN = seq[pos]
    prev, rows_per = _conv_of(seq[pos - 1])
    nxt, _ = _conv_of(seq[pos + 1])
    n = gdn.beta.shape[0]
    if width >= n:
        return seq
    w_next = nxt.weight.double()
    importance = stats["out_sq"].double() * (w_next**2).sum((0, 2, 3))
    keep = torch.sort(torch.argsort(importance, descending=True)[:width]).values
    drop = torch.tensor(sorted(set(range(n)) - set(keep.tolist())), dtype=torch.long)
    beta, gamma = (t.double() for t in gdn.effective_params())
    beta = beta + gamma[:, drop] @ stats["in_sq"].double()[drop]
    new_gdn = GDN(width, inverse=gdn.inverse)
    new_gdn.beta.copy_(torch.sqrt(beta[keep] + PEDESTAL).float())
    new_gdn.gamma.copy_(torch.sqrt(gamma[keep][:, keep] + PEDESTAL).float())
    seq[pos] = new_gdn
    rows = (keep[:, None] * rows_per + torch.arange(rows_per)[None]).reshape(-1)
    prev.weight = nn.Parameter(prev.weight[rows].clone())
    prev.bias = nn.Parameter(prev.bias[rows].clone())
    prev.out_channels = len(rows)
    bias = nxt.bias.double() + w_next[:, drop].sum((2, 3)) @ stats["out"].double()[drop]
    nxt.bias = nn.Parameter(bias.float())
    nxt.weight = nn.Parameter(nxt.weight[:, keep].clone())
    nxt.in_channels = width
    return seq


def pruned_transforms(
    teacher: LatentzipNet,
    crops: list[Tensor],
    widths_a: tuple[int, int, int],
    widths_s: tuple[int, int, int],
    level: float = 2.0,
) -> tuple[nn.Sequential, nn.Sequential]:
    """Student g_a and g_s: copies of the teacher's with each stage cut to the given width."""
    g_a, g_s = copy.deepcopy(teacher.g_a).float(), copy.deepcopy(teacher.g_s).float()
    for p in [*g_a.parameters(), *g_s.parameters()]:
        p.requires_grad_(True)  # the teacher is frozen; its copies are to be trained
    for stage, width in enumerate(widths_a):
        if width < widths_of(g_a)[stage]:
            g_a = prune_stage(g_a, stage, width, stage_stats(g_a, crops)[stage])
    with torch.no_grad():
        gain, inv_gain = teacher.gains(level)
        latents = []
        for x in crops:
            y = teacher.g_a(x) * gain[None, :, None, None]
            latents.append(torch.round(y) * inv_gain[None, :, None, None])
    for stage, width in enumerate(widths_s):
        if width < widths_of(g_s)[stage]:
            g_s = prune_stage(g_s, stage, width, stage_stats(g_s, latents)[stage])
    return g_a, g_s
