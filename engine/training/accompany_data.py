"""Training data for the accompaniment predictor: pieces as track classes, random segments.

A piece is an int64 array (tracks, T) of class indices, track 0 the melody (see
engine/accompany/model.py). Sources: `jsb16:PATH` (melody = soprano, accompaniment = alto, tenor,
bass), `music21` (the Bach chorales music21 ships, through engine.training.datasets), `trio:DIR` (melody,
bass and drums taken from the MIDI files of a folder, see engine/accompany/trio.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.accompany.trio import TRIO_TRACKS, extract_trios, midi_files
from engine.errors import CantorError, MidiFileError
from engine.music.pianoroll import MODEL_LOW, NUM_CLASSES, in_model_range, to_classes

CHORALE_TRACKS = {
    "track_names": ("soprano", "alto", "tenor", "bass"),
    "track_classes": (NUM_CLASSES,) * 4,
    "track_low": (MODEL_LOW,) * 4,
}


class DataError(CantorError):
    """Training data cannot be found or read."""


@dataclass
class TrackData:
    """Train and validation pieces of one source, with the track layout they need."""

    train: list[np.ndarray]
    valid: list[np.ndarray]
    tracks: dict
    provenance: dict = field(default_factory=dict)


def chorale_pieces(pieces) -> list[np.ndarray]:
    """(4, T) pitch arrays -> class arrays; pieces outside Coconet's range are skipped, as Coconet does."""
    return [to_classes(p) for p in pieces if in_model_range(np.asarray(p))]


def load_chorales(spec: str) -> TrackData:
    """jsb16:PATH or music21 through engine.training.datasets: melody = soprano, accompaniment = A, T, B."""
    from engine.training import datasets

    try:
        found = datasets.load_data(spec)
    except datasets.DataError as exc:
        raise DataError(str(exc)) from None
    provenance = {**found.provenance, "split": "train", "valid_split": "valid",
                  "melody": "soprano", "accompaniment": "alto, tenor, bass"}
    return TrackData(
        chorale_pieces(found.split("train")),
        chorale_pieces(found.split("valid")),
        dict(CHORALE_TRACKS),
        provenance,
    )


def load_data(spec: str) -> TrackData:
    """Resolve a --data value: jsb16:PATH, music21, or trio:DIR."""
    kind, _, arg = spec.partition(":")
    if (kind == "jsb16" and arg) or spec == "music21":
        data = load_chorales(spec)
    elif kind == "trio" and arg:
        data = load_trio_folder(arg)
    else:
        raise DataError(f"unknown data {spec!r}: use jsb16:PATH, music21, or trio:DIR")
    if not data.train:
        raise DataError(f"no usable training pieces in {spec}")
    if not data.valid:
        data.valid = data.train[:1]
    return data


def pad_to(piece: np.ndarray, steps: int, silence: np.ndarray) -> np.ndarray:
    """Pad a (tracks, T) piece at the end with each track's silence class to `steps`."""
    if piece.shape[1] >= steps:
        return piece
    pad = np.repeat(silence[:, None], steps - piece.shape[1], axis=1)
    return np.concatenate([piece, pad], axis=1)


def silence_classes(config) -> np.ndarray:
    return np.array([config.silence_class(i) for i in range(config.num_tracks)], dtype=np.int64)


def transpose_segment(seg: np.ndarray, config, shift: int) -> np.ndarray:
    """Shift every pitched track by `shift` semitones (caller checks the range)."""
    out = seg.copy()
    for i, low in enumerate(config.track_low):
        if low < 0:
            continue
        sounding = seg[i] != config.silence_class(i)
        out[i, sounding] += shift
    return out


def allowed_shifts(seg: np.ndarray, config, limit: int) -> tuple[int, int]:
    """Range of transpositions within +-limit that keep every pitched track in its classes."""
    lo, hi = -limit, limit
    for i, low in enumerate(config.track_low):
        if low < 0:
            continue
        sounding = seg[i][seg[i] != config.silence_class(i)]
        if sounding.size:
            lo = max(lo, -int(sounding.min()))
            hi = min(hi, config.track_classes[i] - 2 - int(sounding.max()))
    return lo, max(lo, hi)


class SegmentSampler:
    """Random beat-aligned segments of the pieces, transposed at random, as a (B, tracks, T) batch."""

    def __init__(self, pieces, config, *, transpose: int = 6, align: int = 4) -> None:
        self.config = config
        self.transpose = transpose
        self.align = align
        silence = silence_classes(config)
        self.pieces = [pad_to(p, config.segment, silence) for p in pieces]
        weights = np.array([p.shape[1] for p in self.pieces], dtype=np.float64)
        self.weights = weights / weights.sum()

    def __repr__(self) -> str:
        return f"SegmentSampler(pieces={len(self.pieces)}, transpose=±{self.transpose})"

    def batch(self, rng: np.random.Generator, size: int) -> np.ndarray:
        seg = self.config.segment
        out = np.empty((size, self.config.num_tracks, seg), dtype=np.int64)
        for b, index in enumerate(rng.choice(len(self.pieces), size=size, p=self.weights)):
            piece = self.pieces[index]
            starts = (piece.shape[1] - seg) // self.align + 1
            start = int(rng.integers(starts)) * self.align
            crop = piece[:, start : start + seg]
            if self.transpose:
                lo, hi = allowed_shifts(crop, self.config, self.transpose)
                crop = transpose_segment(crop, self.config, int(rng.integers(lo, hi + 1)))
            out[b] = crop
        return out


def fixed_segments(pieces, config, limit: int = 4096) -> np.ndarray:
    """Non-overlapping segments of the pieces, untransposed: a fixed validation set."""
    seg, silence = config.segment, silence_classes(config)
    out = []
    for piece in pieces:
        piece = pad_to(piece, seg, silence)
        for start in range(0, piece.shape[1] - seg + 1, seg):
            out.append(piece[:, start : start + seg])
    return np.stack(out[:limit]) if out else np.empty((0, config.num_tracks, seg), np.int64)


def load_trio_folder(folder):
    """`--data trio:DIR`: trios of every MIDI file below DIR; every 10th file is validation."""
    files = midi_files(folder)
    if not files:
        raise DataError(f"no .mid or .midi files in {folder}")
    train, valid, skipped, unreadable = [], [], 0, 0
    for i, path in enumerate(files):
        try:
            trios = extract_trios(path)
        except MidiFileError:
            unreadable += 1
            continue
        skipped += not trios
        (valid if i % 10 == 9 else train).extend(t.classes() for t in trios)
    if not train and not valid:
        raise DataError(
            f"none of the {len(files)} MIDI files in {folder} has a melody (programs 0-31),"
            " a bass (programs 32-39) and drums (channel 10)"
        )
    provenance = {"source": "trio", "folder": Path(folder).name, "files": len(files),
                  "files_without_trio": skipped, "unreadable_files": unreadable,
                  "melody": "programs 0-31", "accompaniment": "bass 32-39, drums channel 10"}
    return TrackData(train or valid, valid, dict(TRIO_TRACKS), provenance)
