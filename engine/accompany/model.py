"""Accompaniment VAE and its melody-only surrogate encoder (after accompany-music-vae).

A segment is a few bars of several tracks on the 16th grid, each track a categorical value per step
(a pitch class with silence last, or a drum pattern). Track 0 is always the melody.

- `AccompanimentVAE`: encoder(all tracks) -> (mu, log sigma^2) -> z -> decoder -> logits of all
  tracks. With `decoder_sees_melody` the decoder also reads the melody, so z only has to carry the
  choices of the accompaniment (timing of chords, voicing), and the draft follows the melody's rhythm.
- `SurrogateEncoder`: melody track alone -> an estimate of the frozen VAE's mu (trained with MSE).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

DOWNSAMPLE = 8  # three stride-2 stages between the segment and the latent grid


@dataclass
class AccompanyConfig:
    """Shape of the accompaniment VAE and its surrogate; saved in every checkpoint."""

    track_names: tuple[str, ...] = ("soprano", "alto", "tenor", "bass")
    """Name of each track; track 0 is the melody, the others the accompaniment."""
    track_classes: tuple[int, ...] = (47, 47, 47, 47)
    """Classes per track: pitches low..low+n-2 then silence, or drum patterns (silence = 0)."""
    track_low: tuple[int, ...] = (36, 36, 36, 36)
    """Lowest MIDI pitch of each pitched track; -1 marks an unpitched (drum) track."""
    segment: int = 32
    """Steps (16th notes) per segment; a multiple of 8."""
    embed: int = 32
    """Embedding size of one track's class at one step."""
    width: int = 128
    """Channels of the convolutional encoder and decoder."""
    latent: int = 64
    """Dimensions of the latent code z per segment."""
    blocks: int = 1
    """Residual blocks per resolution stage."""
    decoder_sees_melody: bool = False
    """The decoder also reads the melody (a conditional VAE). Off by default: z must then carry
    the melody too, which is what lets the surrogate predict it from the melody."""
    surrogate_width: int = 256
    """Channels of the surrogate encoder."""

    def __post_init__(self) -> None:
        self.track_names = tuple(str(n) for n in self.track_names)
        self.track_classes = tuple(int(c) for c in self.track_classes)
        self.track_low = tuple(int(c) for c in self.track_low)
        n = len(self.track_names)
        if n < 2 or len(self.track_classes) != n or len(self.track_low) != n:
            raise ValueError("need at least two tracks, with one class count and low pitch each")
        if self.segment < DOWNSAMPLE or self.segment % DOWNSAMPLE:
            raise ValueError(f"segment must be a positive multiple of {DOWNSAMPLE}; got {self.segment}")
        if min(self.embed, self.width, self.latent, self.surrogate_width, self.blocks) < 1:
            raise ValueError("embed, width, latent, surrogate_width and blocks must be >= 1")

    @property
    def num_tracks(self) -> int:
        return len(self.track_names)

    def silence_class(self, track: int) -> int:
        """Class of a silent step: the last class of a pitched track, 0 (no hit) for drums."""
        return self.track_classes[track] - 1 if self.track_low[track] >= 0 else 0

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("track_names", "track_classes", "track_low"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict) -> AccompanyConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class ResBlock(nn.Module):
    """Two 1-D convolutions with a skip connection."""

    def __init__(self, width: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.gelu(self.conv1(F.gelu(x))))


class TrackEmbedding(nn.Module):
    """(B, tracks, T) class indices -> (B, tracks * embed, T) features."""

    def __init__(self, classes: tuple[int, ...], embed: int) -> None:
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(c, embed) for c in classes)

    def forward(self, tracks: torch.Tensor) -> torch.Tensor:
        parts = [table(tracks[:, i]) for i, table in enumerate(self.tables)]
        return torch.cat(parts, dim=-1).transpose(1, 2)


class SegmentEncoder(nn.Module):
    """Embedded tracks over one segment -> a flat feature vector (three stride-2 stages)."""

    def __init__(self, classes: tuple[int, ...], embed: int, width: int, segment: int, blocks: int):
        super().__init__()
        self.embed = TrackEmbedding(classes, embed)
        self.inp = nn.Conv1d(len(classes) * embed, width, 3, padding=1)
        stages = []
        for _ in range(3):
            stages += [ResBlock(width) for _ in range(blocks)]
            stages.append(nn.Conv1d(width, width, 4, stride=2, padding=1))
        self.stages = nn.Sequential(*stages)
        self.out_features = width * (segment // DOWNSAMPLE)

    def forward(self, tracks: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.inp(self.embed(tracks)))
        return F.gelu(x).flatten(1)


class AccompanimentVAE(nn.Module):
    """All tracks of a segment -> (mu, logvar) -> z -> logits of every track."""

    def __init__(self, config: AccompanyConfig) -> None:
        super().__init__()
        self.config = c = config
        self.encoder = SegmentEncoder(c.track_classes, c.embed, c.width, c.segment, c.blocks)
        self.to_latent = nn.Linear(self.encoder.out_features, 2 * c.latent)
        self.from_latent = nn.Linear(c.latent, c.width * (c.segment // DOWNSAMPLE))
        ups = []
        for _ in range(3):
            ups.append(nn.ConvTranspose1d(c.width, c.width, 4, stride=2, padding=1))
            ups += [ResBlock(c.width) for _ in range(c.blocks)]
        self.upsample = nn.Sequential(*ups)
        if c.decoder_sees_melody:
            self.melody_embed = TrackEmbedding(c.track_classes[:1], c.embed)
            self.melody_inp = nn.Conv1d(c.embed, c.width, 3, padding=1)
        # Dilated blocks at full resolution let each step see its neighbours' harmony.
        self.refine = nn.Sequential(*(ResBlock(c.width, d) for d in (1, 2, 4)))
        self.heads = nn.ModuleList(nn.Conv1d(c.width, n, 1) for n in c.track_classes)

    def encode(self, tracks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, tracks, T) -> mu, logvar, each (B, latent)."""
        mu, logvar = self.to_latent(self.encoder(tracks)).chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 6.0)

    def decode(self, z: torch.Tensor, melody: torch.Tensor | None = None) -> list[torch.Tensor]:
        """z (B, latent) [+ melody classes (B, T)] -> one (B, classes, T) logit tensor per track."""
        c = self.config
        x = self.from_latent(z).view(z.shape[0], c.width, c.segment // DOWNSAMPLE)
        x = self.upsample(x)
        if c.decoder_sees_melody:
            if melody is None:
                raise ValueError("this decoder needs the melody")
            x = x + self.melody_inp(self.melody_embed(melody.unsqueeze(1)))
        x = F.gelu(self.refine(x))
        return [head(x) for head in self.heads]

    def forward(self, tracks: torch.Tensor, sample: bool = True):
        """Reconstruct a batch: returns (logits per track, mu, logvar)."""
        mu, logvar = self.encode(tracks)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        return self.decode(z, tracks[:, 0]), mu, logvar


class SurrogateEncoder(nn.Module):
    """The melody track of a segment alone -> an estimate of the VAE's mu."""

    def __init__(self, config: AccompanyConfig) -> None:
        super().__init__()
        self.config = c = config
        self.encoder = SegmentEncoder(
            c.track_classes[:1], c.embed, c.surrogate_width, c.segment, c.blocks
        )
        self.head = nn.Sequential(
            nn.Linear(self.encoder.out_features, c.surrogate_width),
            nn.GELU(),
            nn.Linear(c.surrogate_width, c.latent),
        )

    def forward(self, melody: torch.Tensor) -> torch.Tensor:
        """(B, T) melody classes -> (B, latent)."""
        return self.head(self.encoder(melody.unsqueeze(1)))


def reconstruction_loss(
    logits: list[torch.Tensor], tracks: torch.Tensor, config: AccompanyConfig
) -> torch.Tensor:
    """Cross-entropy summed over the scored tracks and steps, averaged over the batch."""
    first = 1 if config.decoder_sees_melody else 0  # the melody is given, not predicted
    total = logits[0].new_zeros(())
    for i in range(first, config.num_tracks):
        total = total + F.cross_entropy(logits[i], tracks[:, i], reduction="sum")
    return total / tracks.shape[0]


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per latent dimension, averaged over the batch: (latent,)."""
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(0)


__all__ = [
    "AccompanimentVAE",
    "AccompanyConfig",
    "SurrogateEncoder",
    "kl_per_dim",
    "reconstruction_loss",
]
