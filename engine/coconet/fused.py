"""The sampling passes on oneDNN's fused kernels: convolution + bias + ReLU (+ the residual) at once.

The Composer's sampling and repair passes are nearly all convolution. Run as separate operators,
each layer costs a convolution, then a ReLU and (every second layer) a residual add over the whole
activation, and under bf16 autocast each convolution also casts its weights to bf16 again at every
call (autocast caches casts only for weights that need gradients). `FusedNet` runs the same network
(batch norm already folded in: `Coconet.fuse_for_inference`) with its weights cast once, through
`torch.ops.mkldnn._convolution_pointwise`, the CPU kernels torch's own compiler emits for these
patterns: one call per layer computes conv + bias + ReLU, or conv + bias + residual + ReLU.

Measured on one layer of the shipped net (T = 160 steps, batch 1, 2 threads, AVX-512/AMX Xeon):
autocast conv + ReLU 201 us, bf16 weights cast once 152 us, fused 125 us; conv + add + ReLU 177 us
unfused against 126 us fused. In bf16 the fused residual adds before rounding (the unfused path
rounds the convolution's output first), so the two differ by bf16 rounding, not more. For one
example at a time (the first variant, a single harmonization) the weights are also kept in
oneDNN's blocked layout, packed once: the whole net then took 2.4-2.6 ms instead of 2.9-3.6 at
T = 160 and 1.05-1.2 instead of 1.4 at T = 32 (three alternating runs each); batches of 3-4 were
no faster with packed weights, so they use the plain ones.

The ranking and the confidence map do not use it: they run the fp32 model as before. Where these
kernels are missing (a torch built without oneDNN) `fused_net` returns None and the sampler keeps
the model itself.
"""

from __future__ import annotations

import torch

from engine.coconet.model import Coconet

# Steps of the example the weights are packed for: an 8-bar piece and its frame, about what a
# window holds (a region plus the receptive field each side).
PACK_STEPS = 160


def kernels_available() -> bool:
    """True when this torch has oneDNN's fused convolution kernels."""
    return (torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, "_convolution_pointwise"))


class _Conv:
    """One folded convolution, its weights in the net's dtype."""

    def __init__(self, conv: torch.nn.Conv2d, dtype: torch.dtype, classes: int) -> None:
        self.weight = conv.weight.detach().to(dtype).contiguous()
        bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
        self.bias = bias.detach().to(dtype).contiguous()
        self.time_pad, self.pitch_pad = (int(p) for p in conv.padding)
        self.dilation = [int(d) for d in conv.dilation]
        self.groups = int(conv.groups)
        # oneDNN's own blocked layout for one example of PACK_STEPS steps; batches keep the plain
        # weights (measured no faster with these; README, benchmarks).
        self.packed = torch._C._nn.mkldnn_reorder_conv2d_weight(
            self.weight.to_mkldnn(), [self.time_pad, self.pitch_pad], [1, 1], self.dilation,
            self.groups, [1, conv.in_channels, PACK_STEPS, classes])

    def __call__(self, x, *, relu: bool, residual=None):
        padding = [self.time_pad, self.pitch_pad]
        weight = self.packed if x.shape[0] == 1 else self.weight
        if residual is None:
            return torch.ops.mkldnn._convolution_pointwise(
                x, weight, self.bias, padding, [1, 1], self.dilation, self.groups,
                "relu" if relu else "none", [], "")
        return torch.ops.mkldnn._convolution_pointwise.binary(
            x, residual, weight, self.bias, padding, [1, 1], self.dilation, self.groups,
            "add", 1.0, "relu", [], "")


class FusedNet:
    """A folded Coconet (plain convolutions, not separable) run on fused kernels in `dtype`."""

    # Always the whole (windowed) tensor: the span pyramid (model.py) measured slower here than
    # the whole pass of a window (T = 160, 2 threads: 3.0-4.5 ms a span against 2.9 ms whole),
    # its many small convolutions of ever-changing widths cost more than they save.
    takes_span = False

    def __init__(self, model: Coconet, dtype: torch.dtype = torch.bfloat16) -> None:
        if not getattr(model, "fused", False):
            raise ValueError("FusedNet needs a model folded for inference (fuse_for_inference)")
        if model.config.separable:
            raise ValueError("FusedNet runs plain convolutions only")
        self.model, self.config, self.dtype = model, model.config, dtype
        classes = model.config.num_classes
        self.inp = _Conv(model.inp, dtype, classes)
        self.layers = [_Conv(layer.conv, dtype, classes) for layer in model.layers]
        self.out = _Conv(model.out, dtype, classes)

    def __repr__(self) -> str:
        return f"FusedNet({self.config.depth}x{self.config.width}, {self.dtype})"

    def _input(self, classes, mask, cond):
        x = self.model.encode_input(classes, mask, cond).to(self.dtype)
        return x.contiguous(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, classes, mask, cond=None):
        """Logits (B, 4, T, P) in the net's dtype."""
        x = self.inp(self._input(classes, mask, cond), relu=True)
        for i in range(0, len(self.layers), 2):
            h = self.layers[i](x, relu=True)
            x = self.layers[i + 1](h, relu=True, residual=x)
        return self.out(x, relu=False).contiguous()


def fused_net(model, dtype: torch.dtype) -> FusedNet | None:
    """`model` on fused kernels in `dtype`, or None where that cannot run (no oneDNN, a separable
    or unfolded net, or kernels that fail on a tiny input)."""
    if not kernels_available():
        return None
    try:
        net = FusedNet(model, dtype)
        steps = 4
        classes = torch.zeros(1, 4, steps, dtype=torch.long)
        net(classes, torch.ones(1, 4, steps, dtype=torch.bool))
    except (ValueError, RuntimeError, NotImplementedError):
        return None
    return net


__all__ = ["FusedNet", "fused_net", "kernels_available"]
