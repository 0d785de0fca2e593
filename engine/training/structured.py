"""Training crops that carry structure: real piece boundaries, metric position, fermatas and key.

Each piece is framed by `edge` explicit "outside the piece" frames on both sides (silence, known,
marked in the outside plane), so a crop that reaches a piece's real start or end shows it, unlike a
crop cut inside the piece. Metadata kinds are dropped at random (made unknown) so the model also works
without them (a melody from a MIDI file has no fermatas). All randomness comes from a torch.Generator.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.coconet.structure import EDGE, NUM_PLANES, Structure, planes
from engine.music.keys import parse_key
from engine.music.pianoroll import SILENCE_CLASS
from engine.training.datasets import DataError, allowed_shifts, transpose_classes


def cadence_steps_of(piece: np.ndarray, fermatas: np.ndarray | None, before: int) -> np.ndarray:
    """(steps,) bool: where a piece's cadences are. Each phrase end under a fermata (steps under a
    fermata in any voice) and the piece's final chord (from the last step at which any voice
    changes to the end), each with the `before` steps that lead into it (the approach chord)."""
    steps = piece.shape[1]
    out = np.zeros(steps, dtype=bool)
    if steps == 0 or before < 0:
        return out
    changes = np.flatnonzero((piece[:, 1:] != piece[:, :-1]).any(axis=0)) + 1
    last = int(changes[-1]) if changes.size else 0
    out[max(0, last - before):] = True
    if fermatas is not None:
        marked = np.asarray(fermatas, dtype=bool)[:steps]
        starts = np.flatnonzero(marked & ~np.concatenate(([False], marked[:-1])))
        for start in starts:
            out[max(0, int(start) - before):start] = True
        out[:marked.size] |= marked
    return out


def structure_of(steps: int, meta: dict | None) -> Structure:
    """A piece's Structure from recovered metadata (engine/training/chorale_meta.py); None = unknown."""
    if meta is None:
        return Structure(steps)
    meter, pickup = None, 0
    if meta.get("time_signature"):
        num, den = meta["time_signature"]
        bar = num * 16 // den
        beat = bar // num if den <= 4 or num % 3 else bar // (num // 3)  # compound: 3 eighths a beat
        meter, pickup = (bar, beat), int(meta["pickup"]) % bar
    fermatas = None if meta.get("fermatas") is None else np.asarray(meta["fermatas"], dtype=bool)
    return Structure(steps, meter, pickup, fermatas, parse_key(meta.get("key")))


class StructuredCropSampler:
    """Random crops (classes, cells to learn, structure planes) of framed pieces, transposed at random."""

    def __init__(self, pieces: list[np.ndarray], structures: list[Structure], crop: int,
                 max_shift: int = 6, edge: int = EDGE, drop: float = 0.3,
                 cadence_before: int = 8) -> None:
        if len(pieces) != len(structures):
            raise DataError("every piece needs its structure (None for unknown)")
        self.crop, self.max_shift, self.edge, self.drop = crop, max_shift, edge, drop
        self.pieces = [np.asarray(p) for p in pieces if p.shape[1] > 0]
        self.structures = [s for p, s in zip(pieces, structures) if p.shape[1] > 0]
        # Cadence cells come from the full metadata, also when a crop's planes hide it.
        self.cadences = [cadence_steps_of(p, s.fermatas, cadence_before)
                         for p, s in zip(self.pieces, self.structures)]
        if not self.pieces:
            raise DataError("no training pieces")
        # A crop starts anywhere from `edge` frames before a piece to where it still overlaps the
        # piece's last frame; short pieces sit in a crop with more outside frames around them.
        self.starts = np.array([max(1, p.shape[1] + 2 * edge - crop + 1) for p in self.pieces])
        self.cumulative = np.cumsum(self.starts)

    def __len__(self) -> int:
        return int(self.cumulative[-1])

    def __repr__(self) -> str:
        return (f"StructuredCropSampler(pieces={len(self.pieces)}, crop={self.crop}, "
                f"edge={self.edge}, drop={self.drop})")

    def example(self, index: int, shift_u: float, drops: tuple[bool, bool, bool]):
        """One crop: classes (4, crop), inside (crop,) bool, planes (C, crop, P), cadence (crop,)
        bool (cadence_steps_of)."""
        p = int(np.searchsorted(self.cumulative, index, side="right"))
        offset = index - (int(self.cumulative[p - 1]) if p else 0)
        piece, structure = self.pieces[p], self.structures[p].dropped(*drops)
        steps, edge, crop = piece.shape[1], self.edge, self.crop
        low, high = allowed_shifts(piece, self.max_shift)
        shift = low + min(int(shift_u * (high - low + 1)), high - low)
        framed = np.full((4, steps + 2 * edge), SILENCE_CLASS, dtype=np.int64)
        framed[:, edge:edge + steps] = transpose_classes(piece, shift)
        start = offset - max(0, crop - framed.shape[1])  # a short piece: its frame sits inside
        planes_all = planes(structure, edge, edge, shift)
        classes = np.full((4, crop), SILENCE_CLASS, dtype=np.int64)
        cond = np.zeros((NUM_PLANES, crop, planes_all.shape[2]), dtype=np.float32)
        lo, hi = max(0, start), min(framed.shape[1], start + crop)
        classes[:, lo - start:hi - start] = framed[:, lo:hi]
        cond[:, lo - start:hi - start] = planes_all[:, lo:hi]

        def in_crop(flags) -> np.ndarray:
            """(crop,) bool of per-step flags of the piece (False outside it)."""
            framed_flags = np.zeros(framed.shape[1], dtype=bool)
            framed_flags[edge:edge + steps] = flags
            out = np.zeros(crop, dtype=bool)
            out[lo - start:hi - start] = framed_flags[lo:hi]
            return out

        inside, cadence = in_crop(True), in_crop(self.cadences[p])
        # Frames of the crop beyond the framed piece (only around short pieces) are outside too.
        cond[0, :lo - start] = 1
        cond[0, hi - start:] = 1
        return classes, inside, cond, cadence

    def sample(self, batch: int, generator: torch.Generator):
        """(classes (B, 4, crop) long, inside (B, 4, crop) bool, cond (B, C, crop, P) float,
        cadence (B, 4, crop) bool)."""
        indices = torch.randint(len(self), (batch,), generator=generator).tolist()
        shifts = torch.rand(batch, generator=generator).tolist()
        drops = (torch.rand(batch, 3, generator=generator) < self.drop).tolist()
        out = [self.example(i, u, tuple(d)) for i, u, d in zip(indices, shifts, drops)]
        classes = torch.from_numpy(np.stack([o[0] for o in out]))
        inside = torch.from_numpy(np.stack([o[1] for o in out]))[:, None, :].expand(-1, 4, -1)
        cond = torch.from_numpy(np.stack([o[2] for o in out]))
        cadence = torch.from_numpy(np.stack([o[3] for o in out]))[:, None, :].expand(-1, 4, -1)
        return classes, inside.contiguous(), cond, cadence.contiguous()


def framed_piece(piece: np.ndarray, structure: Structure, edge: int = EDGE):
    """A whole piece framed for evaluation: (classes (4, T+2e), inside (T+2e,), planes (C, T+2e, P))."""
    steps = piece.shape[1]
    classes = np.full((4, steps + 2 * edge), SILENCE_CLASS, dtype=np.int64)
    classes[:, edge:edge + steps] = piece
    inside = np.zeros(steps + 2 * edge, dtype=bool)
    inside[edge:edge + steps] = True
    return classes, inside, planes(structure, edge, edge)
