"""Coconet: a fully convolutional network over (time x pitch) that fills in masked cells.

Input: for each of the four voices, the one-hot pianoroll with masked cells zeroed, plus the mask
itself broadcast over pitch: 8 channels over a (T, P) image, then `cond_planes` structure planes
(piece boundaries, metric position, fermatas, key: engine/coconet/structure.py), zero when unknown.
Output: logits per (voice, step, class).
With `silence_class`, the last class on the pitch axis is silence (see engine/music/pianoroll.py).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.coconet.window import receptive_field
from engine.music.pianoroll import NUM_CLASSES, NUM_PITCHES

NUM_VOICES = 4
SPLIT_BYTES = 256 * 1024  # inference runs one example at a time above this activation size


@dataclass
class CoconetConfig:
    """Shape of a Coconet network; saved in every checkpoint and rebuilt from it."""

    depth: int = 16
    """Number of convolution layers between the input and the output convolutions."""
    width: int = 64
    """Channels (filters) of every hidden layer (of the residual stream, with `inner`)."""
    inner: int = 0
    """Channels of the first layer of each residual pair (0: `width`). A narrower inner layer is a
    bottleneck: at half the width a pair costs about half the multiply-adds."""
    kernel: int = 3
    """Square kernel size over (time, pitch)."""
    dilation: tuple[int, ...] = (1,)
    """Time dilation per hidden layer, cycled over the depth (e.g. (1, 2, 4, 8))."""
    dilate_pitch: bool = False
    """Apply the dilation on the pitch axis too (capped at 4 semitone-steps)."""
    separable: bool = False
    """Depthwise-separable hidden convolutions (depthwise kxk, then pointwise 1x1)."""
    silence_class: bool = True
    """Silence is an extra class on the pitch axis; otherwise a silent cell is an all-zero row."""
    cond_planes: int = 0
    """Structure planes read besides the notes (0 = a plain Coconet; see engine/coconet/structure.py)."""

    def __post_init__(self) -> None:
        self.dilation = tuple(int(d) for d in self.dilation)
        if self.depth < 2 or self.depth % 2:
            raise ValueError(f"depth must be an even number >= 2; got {self.depth}")
        if self.width < 1 or self.kernel < 1 or self.kernel % 2 == 0:
            raise ValueError("width must be >= 1 and kernel an odd number >= 1")
        if self.inner < 0:
            raise ValueError(f"inner must be >= 0 (0: the width); got {self.inner}")
        if not self.dilation or min(self.dilation) < 1:
            raise ValueError(f"dilation must be positive integers; got {self.dilation}")
        if not 0 <= self.cond_planes <= 64:
            raise ValueError(f"cond_planes must be in range 0..64; got {self.cond_planes}")

    @property
    def inner_width(self) -> int:
        """Channels between the two layers of a residual pair."""
        return self.inner or self.width

    def layer_channels(self, index: int) -> tuple[int, int]:
        """(in, out) channels of hidden layer `index`: a pair goes width -> inner -> width."""
        if index % 2 == 0:
            return self.width, self.inner_width
        return self.inner_width, self.width

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES if self.silence_class else NUM_PITCHES

    def to_dict(self) -> dict:
        data = asdict(self)
        data["dilation"] = list(self.dilation)
        return data


class ConvLayer(nn.Module):
    """Convolution (plain or depthwise-separable) + batch norm; ReLU is applied by the caller."""

    def __init__(self, config: CoconetConfig, dilation: int, channels: tuple[int, int] | None = None
                 ) -> None:
        super().__init__()
        k = config.kernel
        width_in, width = channels or (config.width, config.width)
        pitch_dilation = min(dilation, 4) if config.dilate_pitch else 1
        dil = (dilation, pitch_dilation)
        pad = (dilation * (k - 1) // 2, pitch_dilation * (k - 1) // 2)
        if config.separable:
            self.conv = nn.Sequential(
                nn.Conv2d(width_in, width_in, k, padding=pad, dilation=dil, groups=width_in,
                          bias=False),
                nn.Conv2d(width_in, width, 1, bias=False),
            )
        else:
            self.conv = nn.Conv2d(width_in, width, k, padding=pad, dilation=dil, bias=False)
        self.norm = nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


class Coconet(nn.Module):
    """Masked pianoroll (B, 4, T) of classes + mask (B, 4, T) -> logits (B, 4, T, classes)."""

    def __init__(self, config: CoconetConfig) -> None:
        super().__init__()
        self.config = config
        k, width = config.kernel, config.width
        self.inp = nn.Conv2d(2 * NUM_VOICES + config.cond_planes, width, k, padding=k // 2, bias=False)
        self.inp_norm = nn.BatchNorm2d(width)
        dilations = [config.dilation[i % len(config.dilation)] for i in range(config.depth)]
        self.layers = nn.ModuleList(ConvLayer(config, d, config.layer_channels(i))
                                    for i, d in enumerate(dilations))
        self.out = nn.Conv2d(width, NUM_VOICES, k, padding=k // 2)

    def encode_input(self, classes: torch.Tensor, mask: torch.Tensor,
                     cond: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 4, T) classes + (B, 4, T) bool mask [+ (B, C, T, P) planes] -> (B, 8 + C, T, P)."""
        n = self.config.num_classes
        known = ~mask
        # Silent cells without a silence class are all-zero rows; class index n is dropped.
        onehot = F.one_hot(classes.clamp(max=n), n + 1)[..., :n].to(torch.float32)
        onehot = onehot * known.unsqueeze(-1)
        mask_plane = mask.to(torch.float32).unsqueeze(-1).expand(-1, -1, -1, n)
        parts = [onehot, mask_plane]
        c = self.config.cond_planes
        if c:
            b, _, t = classes.shape
            if cond is None:  # nothing known: the planes of "unknown" are zero
                cond = torch.zeros(b, c, t, n)
            elif cond.shape[1:] != (c, t, n) or cond.shape[0] not in (1, b):
                raise ValueError(f"cond must have shape (B, {c}, {t}, {n}); got {tuple(cond.shape)}")
            parts.append(cond.to(torch.float32).expand(b, -1, -1, -1))
        return torch.cat(parts, dim=1)

    takes_span = True  # forward(..., span=(lo, hi)) computes the logits of those steps only

    def forward(self, classes: torch.Tensor, mask: torch.Tensor,
                cond: torch.Tensor | None = None, span: tuple[int, int] | None = None
                ) -> torch.Tensor:
        """Logits (B, 4, T, P). Without autograd, `span` = (lo, hi) computes steps [lo, hi) only
        (the rest of the result is zero): each layer runs on the steps the layers after it need."""
        if not torch.is_grad_enabled():
            return self._infer(classes, mask, cond, span)
        x = F.relu(self.inp_norm(self.inp(self.encode_input(classes, mask, cond))))
        for i in range(0, len(self.layers), 2):
            h = F.relu(self.layers[i](x))
            x = F.relu(self.layers[i + 1](h) + x)  # residual every two layers
        return self.out(x)  # (B, 4, T, P): voices are output channels

    def _infer(self, classes: torch.Tensor, mask: torch.Tensor,
               cond: torch.Tensor | None = None, span: tuple[int, int] | None = None
               ) -> torch.Tensor:
        """The forward pass without autograd: in-place activations, cache-sized batches."""
        batch, _, steps = classes.shape
        width = steps if span is None else min(steps, span[1] - span[0] + 2 * receptive_field(self.config))
        channels = max(self.config.width, self.config.inner_width)
        example_bytes = 4 * channels * width * self.config.num_classes
        # fp32 activations of a long batch spill out of the L2 cache; one example at a time was
        # measured faster (T=128, batch 4). Under bf16 autocast the whole batch is faster.
        if batch > 1 and example_bytes >= SPLIT_BYTES and not torch.is_autocast_enabled("cpu"):
            return torch.cat([
                self._infer(classes[i:i + 1], mask[i:i + 1],
                            None if cond is None else cond[min(i, cond.shape[0] - 1)][None], span)
                for i in range(batch)])
        if span is not None and not self.config.separable:
            return self._infer_span(classes, mask, cond, span)
        x = self.inp_norm(self.inp(self.encode_input(classes, mask, cond))).relu_()
        for i in range(0, len(self.layers), 2):
            h = self.layers[i](x).relu_()
            x = self.layers[i + 1](h).add_(x).relu_()
        return self.out(x).contiguous()

    def _convs(self) -> list[nn.Conv2d]:
        """The convolution of each stage that reaches along time (a separable layer's depthwise one)."""
        return [self.inp, *(layer.conv[0] if isinstance(layer.conv, nn.Sequential) else layer.conv
                            for layer in self.layers), self.out]

    def _infer_span(self, classes, mask, cond, span: tuple[int, int]) -> torch.Tensor:
        """Logits of steps [lo, hi) (zero elsewhere), equal to the whole pass there.

        Every convolution runs unpadded in time on just the steps the layers after it need, a
        pyramid narrowing from the span plus the receptive field to the span. The whole pass pads
        each layer's input with zeros at the tensor's ends, so whatever a layer computes for steps
        outside the tensor is set to zero before the next layer reads it."""
        steps = classes.shape[-1]
        lo, hi = max(0, int(span[0])), min(steps, int(span[1]))
        if hi <= lo:
            return self._infer(classes, mask, cond)
        pads = [int(c.padding[0]) for c in self._convs()]
        x_in = self.encode_input(classes, mask, cond)
        start = lo - sum(pads)  # the tensor step of the first column of `x`
        x = _time_slice(x_in, start, hi + sum(pads))

        def conv(c: nn.Conv2d, z: torch.Tensor) -> torch.Tensor:
            return F.conv2d(z, c.weight, c.bias, c.stride, (0, c.padding[1]), c.dilation, c.groups)

        start += pads[0]
        x = _outside_zeroed(self.inp_norm(conv(self.inp, x)).relu_(), start, steps)
        for i in range(0, len(self.layers), 2):
            first, second = self.layers[i], self.layers[i + 1]
            h_start = start + pads[1 + i]
            h = _outside_zeroed(first.norm(conv(first.conv, x)).relu_(), h_start, steps)
            y_start = h_start + pads[2 + i]
            y = second.norm(conv(second.conv, h))
            skip = y_start - start
            y = _outside_zeroed(y.add_(x[:, :, skip:skip + y.shape[2]]).relu_(), y_start, steps)
            x, start = y, y_start
        out = conv(self.out, x)  # steps [lo, hi)
        full = out.new_zeros(out.shape[0], out.shape[1], steps, out.shape[3])
        full[:, :, lo:hi] = out
        return full

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def fuse_for_inference(self) -> Coconet:
        """A frozen eval-mode copy with every batch norm folded into the convolution before it."""
        fused = copy.deepcopy(self).eval()
        fused.inp = _fold_batchnorm(fused.inp, fused.inp_norm)
        fused.inp_norm = nn.Identity()
        for layer in fused.layers:
            if isinstance(layer.conv, nn.Sequential):  # separable: fold into the pointwise conv
                layer.conv[-1] = _fold_batchnorm(layer.conv[-1], layer.norm)
            else:
                layer.conv = _fold_batchnorm(layer.conv, layer.norm)
            layer.norm = nn.Identity()
        fused.requires_grad_(False)
        fused.fused = True
        # Channels-last convolutions measured 10-25 % faster on CPU (oneDNN's native layout).
        return fused.to(memory_format=torch.channels_last)


def _time_slice(x: torch.Tensor, start: int, end: int) -> torch.Tensor:
    """Steps [start, end) of (B, C, T, P) `x`, zeros where they fall outside [0, T)."""
    steps = x.shape[2]
    if start >= 0 and end <= steps:
        return x[:, :, start:end].contiguous(memory_format=torch.channels_last)
    out = x.new_zeros(x.shape[0], x.shape[1], end - start, x.shape[3])
    a, b = max(0, start), min(steps, end)
    if b > a:
        out[:, :, a - start:b - start] = x[:, :, a:b]
    return out.contiguous(memory_format=torch.channels_last)


def _outside_zeroed(z: torch.Tensor, start: int, steps: int) -> torch.Tensor:
    """`z` (its first column is tensor step `start`) with the columns outside [0, steps) zeroed."""
    before = min(z.shape[2], max(0, -start))
    after = max(before, min(z.shape[2], steps - start))
    if before:
        z[:, :, :before] = 0
    if after < z.shape[2]:
        z[:, :, after:] = 0
    return z


@torch.no_grad()
def _fold_batchnorm(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> nn.Conv2d:
    """conv followed by norm (eval statistics) -> one convolution with a bias."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                    padding=conv.padding, dilation=conv.dilation, groups=conv.groups, bias=True)
    out.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
    out.bias.copy_((bias - norm.running_mean) * scale + norm.bias)
    return out


def with_cond_planes(model: Coconet, planes: int) -> Coconet:
    """A copy of a plain Coconet that also reads `planes` structure planes, with zero weights on them:
    it computes exactly what the original did until training teaches it to use them."""
    if model.config.cond_planes:
        raise ValueError("the model already reads structure planes")
    config = CoconetConfig(**{**model.config.to_dict(), "cond_planes": planes})
    grown = Coconet(config)
    state = dict(model.state_dict())
    old = state["inp.weight"]
    new = torch.zeros(old.shape[0], old.shape[1] + planes, *old.shape[2:], dtype=old.dtype)
    new[:, :old.shape[1]] = old
    state["inp.weight"] = new
    grown.load_state_dict(state)
    return grown


def config_from_dict(data: dict) -> CoconetConfig:
    known = {f for f in CoconetConfig.__dataclass_fields__}
    return CoconetConfig(**{k: v for k, v in data.items() if k in known})


__all__ = ["Coconet", "CoconetConfig", "config_from_dict", "with_cond_planes"]
