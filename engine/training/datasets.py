"""Training data: the JSB-16th json, the music21 Bach chorales, random crops and transposition.

A piece is an int16 array (4, T) of MIDI pitches on the 16th-note grid, -1 = silence. Data specs:
`jsb16:PATH` reads the JSB-16th json ({"train","valid","test"}, each piece a list of [S, A, T, B]
steps); `music21` parses the four-part Bach chorales shipped with music21 into a fixed split
(chorale number i in corpus order: i % 10 == 8 -> valid, i % 10 == 9 -> test, else train) and
caches the result as an .npz in the user's cache folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import CantorError
from engine.fileio import atomic_open
from engine.music.pianoroll import MODEL_HIGH, MODEL_LOW, SILENCE_CLASS, in_model_range, to_classes

SPLITS = ("train", "valid", "test")
MUSIC21_CACHE_VERSION = 1


class DataError(CantorError):
    """A data set cannot be found, read or understood."""


@dataclass
class Dataset:
    """Pieces per split plus a description of where they came from."""

    splits: dict[str, list[np.ndarray]]
    provenance: dict = field(default_factory=dict)

    def split(self, name: str) -> list[np.ndarray]:
        if name not in self.splits:
            raise DataError(f"unknown split {name!r}: choose one of {', '.join(self.splits)}")
        return self.splits[name]


def pieces_from_steps(raw_pieces: list, where: str) -> list[np.ndarray]:
    """JSB-style pieces (lists of [S, A, T, B] steps) -> int16 arrays (4, T)."""
    pieces = []
    for i, raw in enumerate(raw_pieces):
        try:
            values = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where} piece {i} is not a list of [S, A, T, B] steps") from exc
        if not np.isfinite(values).all() or (values != np.round(values)).any():
            raise DataError(f"{where} piece {i} holds pitches that are not whole numbers")
        arr = values.astype(np.int64)
        if arr.ndim != 2 or arr.shape[1] != 4 or arr.shape[0] == 0:
            raise DataError(f"{where} piece {i} has shape {arr.shape}; expected (steps, 4)")
        if arr.min() < -1 or arr.max() > 127:
            raise DataError(f"{where} piece {i} holds values outside -1..127")
        pieces.append(arr.T.astype(np.int16))
    return pieces


def load_jsb16(path: str | os.PathLike) -> Dataset:
    """Read the JSB-16th json (train/valid/test lists of pieces)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"data file not found: {path} (get Jsb16thSeparated.json from the "
                        "JSB-Chorales-dataset repository)")
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path.name} is not a readable JSON file: {exc}") from exc
    if not isinstance(raw, dict) or any(s not in raw for s in SPLITS):
        raise DataError(f"{path.name} must be a JSON object with keys train, valid and test")
    splits = {s: pieces_from_steps(raw[s], f"{path.name} {s}") for s in SPLITS}
    return Dataset(splits, {"source": f"jsb16:{path.name}", "file_bytes": path.stat().st_size})


def _music21_cache_path() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "cantor" / f"music21-chorales-v{MUSIC21_CACHE_VERSION}.npz"


def _part_to_row(part, steps: int) -> np.ndarray:
    """One music21 part -> MIDI pitch per 16th step (-1 where nothing sounds)."""
    row = np.full(steps, -1, dtype=np.int16)
    for note in part.flatten().notes:
        start = round(float(note.offset) * 4)
        end = round(float(note.offset + note.quarterLength) * 4)
        pitch = max(p.midi for p in note.pitches) if note.isChord else note.pitch.midi
        row[start:max(end, start + 1)] = pitch
    return row


def parse_music21_chorales(limit: int | None = None) -> list[np.ndarray]:
    """Parse the four-part chorales in music21's corpus, in corpus order (all: minutes)."""
    try:
        from music21 import corpus
    except ImportError as exc:
        raise DataError("the music21 package is not installed: pip install music21") from exc
    pieces = []
    for chorale in corpus.chorales.Iterator(returnType="stream"):
        parts = list(chorale.parts)
        if len(parts) != 4:
            continue
        steps = round(float(chorale.highestTime) * 4)
        if steps <= 0:
            continue
        pieces.append(np.stack([_part_to_row(p, steps) for p in parts]))
        if limit is not None and len(pieces) >= limit:
            break
    return pieces


def split_music21(pieces: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """The fixed split: index % 10 == 8 -> valid, == 9 -> test, else train."""
    splits: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    for i, piece in enumerate(pieces):
        splits["valid" if i % 10 == 8 else "test" if i % 10 == 9 else "train"].append(piece)
    return splits


def save_pieces(path: Path, pieces: list[np.ndarray]) -> None:
    """Pieces into an .npz file, atomically (the music21 cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"p{i}": p for i, p in enumerate(pieces)}
    # A file, not a name: numpy would append ".npz" to the temporary file's name.
    with atomic_open(path, "music21 cache", error=DataError, mode=0o644) as handle:
        np.savez_compressed(handle, count=len(pieces), **arrays)


def load_pieces(path: Path) -> list[np.ndarray]:
    """The pieces `save_pieces` wrote, in order."""
    with np.load(path) as data:
        return [data[f"p{i}"] for i in range(int(data["count"]))]


def load_music21() -> Dataset:
    """The music21 Bach chorales in four parts, parsed once and cached."""
    cache = _music21_cache_path()
    if cache.is_file():
        pieces = load_pieces(cache)
    else:
        pieces = parse_music21_chorales()
        save_pieces(cache, pieces)
    # Keep the pieces the model can represent (a few chorales leave its 36..81 range).
    pieces = [p for p in pieces if in_model_range(p)]
    return Dataset(split_music21(pieces), {"source": "music21", "pieces": len(pieces)})


def load_data(spec: str) -> Dataset:
    """`jsb16:PATH` or `music21` -> Dataset."""
    if spec == "music21":
        return load_music21()
    if spec.startswith("jsb16:") and len(spec) > len("jsb16:"):
        return load_jsb16(spec[len("jsb16:"):])
    raise DataError(f"unknown data {spec!r}: use jsb16:PATH or music21")


def pieces_to_classes(pieces: list[np.ndarray]) -> list[np.ndarray]:
    """Pitches -> model classes, dropping pieces outside the model's range."""
    return [to_classes(p) for p in pieces if in_model_range(p)]


class CropSampler:
    """Random fixed-length crops of class arrays, transposed at random within the model's range.

    Crop starts are uniform over every position of every piece long enough; a transposition is
    drawn uniformly from the shifts in [-max_shift, max_shift] that keep every note in range.
    All randomness comes from the torch.Generator passed in, so a run can be resumed exactly.
    """

    def __init__(self, pieces: list[np.ndarray], crop: int, max_shift: int = 6) -> None:
        self.crop = crop
        self.max_shift = max_shift
        self.pieces = [p for p in pieces if p.shape[1] >= crop]
        if not pieces:
            raise DataError("the data has no training pieces within the model's range")
        if not self.pieces:
            raise DataError(f"no training piece is at least {crop} steps long; use a shorter crop")
        self.starts = np.array([p.shape[1] - crop + 1 for p in self.pieces])
        self.cumulative = np.cumsum(self.starts)

    def __len__(self) -> int:
        return int(self.cumulative[-1])

    def __repr__(self) -> str:
        return f"CropSampler(pieces={len(self.pieces)}, crop={self.crop}, max_shift={self.max_shift})"

    def crop_at(self, index: int, shift: int) -> np.ndarray:
        piece = int(np.searchsorted(self.cumulative, index, side="right"))
        start = index - (int(self.cumulative[piece - 1]) if piece else 0)
        return transpose_classes(self.pieces[piece][:, start:start + self.crop], shift)

    def sample(self, batch: int, generator) -> np.ndarray:
        """(batch, 4, crop) int64 classes."""
        import torch

        indices = torch.randint(len(self), (batch,), generator=generator).tolist()
        draws = torch.rand(batch, generator=generator).tolist()
        out = np.empty((batch, 4, self.crop), dtype=np.int64)
        for b, (index, u) in enumerate(zip(indices, draws)):
            window = self.crop_at(index, 0)
            low, high = allowed_shifts(window, self.max_shift)
            shift = low + min(int(u * (high - low + 1)), high - low)
            out[b] = transpose_classes(window, shift)
        return out


def allowed_shifts(classes: np.ndarray, max_shift: int) -> tuple[int, int]:
    """The range of semitone shifts within +-max_shift that keeps every sounding cell in range."""
    sounding = classes[classes != SILENCE_CLASS]
    if sounding.size == 0:
        return 0, 0
    low = max(-max_shift, -int(sounding.min()))
    high = min(max_shift, (MODEL_HIGH - MODEL_LOW) - int(sounding.max()))
    return low, high


def transpose_classes(classes: np.ndarray, shift: int) -> np.ndarray:
    """Shift sounding classes by `shift` semitones; silence stays silence."""
    if shift == 0:
        return classes.copy()
    return np.where(classes == SILENCE_CLASS, SILENCE_CLASS, classes + shift)
