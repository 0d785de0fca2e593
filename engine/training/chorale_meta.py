"""Meter, pickup, key and fermatas of the JSB-16th pieces, recovered from music21's Bach chorales.

The JSB-16th file holds notes only. Each of its pieces is matched to a chorale of music21's corpus by its
four voices (transposition-invariant: the best constant shift, then the share of equal cells); the
chorale's time signature, pickup, key (from its key signature and final bass note, transposed by the
shift) and fermatas (steps under a fermata in any voice) then belong to the piece. The split of the JSB
file is kept as it is; a piece with no match keeps only a key read from its own notes (final bass
note + key profile); its meter, pickup and fermatas are unknown (trained and evaluated as unknown).
Parsing the corpus takes minutes, so the chorales are cached under $XDG_CACHE_HOME/cantor/.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from engine.fileio import atomic_write_bytes
from engine.music.analysis import PROFILES
from engine.music.keys import key_name, parse_key
from engine.training.datasets import SPLITS, DataError, _part_to_row, load_jsb16

CACHE_VERSION = 1
MIN_AGREEMENT = 0.9  # share of equal soprano steps for a match (the same tune agrees > 0.95)


def _cache_path() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "cantor" / f"music21-chorale-meta-v{CACHE_VERSION}.npz"


def _chorale_record(chorale) -> dict | None:
    """One music21 chorale -> its four rows of pitches per 16th and its metadata."""
    from music21 import expressions, meter

    parts = list(chorale.parts)
    if len(parts) != 4:
        return None
    steps = round(float(chorale.highestTime) * 4)
    if steps <= 0:
        return None
    rows = np.stack([_part_to_row(part, steps) for part in parts])
    fermatas = np.zeros(steps, dtype=bool)
    for part in parts:
        for note in part.flatten().notes:
            if any(isinstance(e, expressions.Fermata) for e in note.expressions):
                start = round(float(note.offset) * 4)
                fermatas[start:max(round(float(note.offset + note.quarterLength) * 4), start + 1)] = True
    signatures = list(chorale.recurse().getElementsByClass(meter.TimeSignature))
    num, den = (signatures[0].numerator, signatures[0].denominator) if signatures else (4, 4)
    bar = num * 16 // den
    measures = list(parts[0].getElementsByClass("Measure"))
    pickup = 0
    if measures and measures[0].number == 0:
        pickup = round(float(measures[0].duration.quarterLength) * 4) % bar
    return {"rows": rows, "fermatas": fermatas, "time_signature": (num, den), "pickup": pickup,
            "key": _chorale_key(chorale, rows), "source": str(chorale.metadata.title or "")}


def _chorale_key(chorale, rows: np.ndarray) -> str:
    """Key signature + final bass note (Bach's chorales end on the tonic); music21's analysis if neither."""
    from music21 import key as m21key

    signatures = list(chorale.recurse().getElementsByClass(m21key.KeySignature))
    bass = rows[3][rows[3] >= 0]
    if signatures and bass.size:
        major = signatures[0].asKey("major").tonic.pitchClass
        final = int(bass[-1]) % 12
        if final == major:
            return key_name(major, False)
        if final == (major + 9) % 12:
            return key_name(final, True)
    found = chorale.analyze("key")
    return key_name(found.tonic.pitchClass, found.mode == "minor")


def parse_corpus_chorales(limit: int | None = None, progress=None) -> list[dict]:
    """Every four-part chorale of music21's corpus with its metadata (minutes for all)."""
    try:
        from music21 import corpus
    except ImportError as exc:
        raise DataError("the music21 package is not installed: pip install music21") from exc
    records = []
    for chorale in corpus.chorales.Iterator(returnType="stream"):
        record = _chorale_record(chorale)
        if record is not None:
            records.append(record)
            if progress:
                progress(len(records))
        if limit is not None and len(records) >= limit:
            break
    return records


def save_records(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    meta = []
    for i, r in enumerate(records):
        arrays[f"rows{i}"], arrays[f"fermatas{i}"] = r["rows"], r["fermatas"]
        meta.append({k: r[k] for k in ("time_signature", "pickup", "key", "source")})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, meta=json.dumps(meta), **arrays)
    atomic_write_bytes(path, buffer.getvalue(), "chorale cache", error=DataError)


def load_records(path: Path) -> list[dict]:
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        return [{**m, "time_signature": tuple(m["time_signature"]), "rows": data[f"rows{i}"],
                 "fermatas": data[f"fermatas{i}"]} for i, m in enumerate(meta)]


def corpus_records() -> list[dict]:
    """The corpus chorales with metadata, parsed once and cached."""
    path = _cache_path()
    if path.is_file():
        try:
            return load_records(path)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is parsed again
    records = parse_corpus_chorales()
    save_records(path, records)
    return records


def _grams(rows: np.ndarray, n: int = 6) -> set[tuple]:
    """Transposition-invariant fingerprints: every run of n soprano intervals (note to note)."""
    sop = rows[0][rows[0] >= 0].astype(int)
    notes = sop[np.concatenate([[True], sop[1:] != sop[:-1]])] if sop.size else sop
    steps = tuple(np.diff(notes))
    return {steps[i:i + n] for i in range(max(0, len(steps) - n + 1))}


def agreement(piece: np.ndarray, rows: np.ndarray, offset: int = 0) -> tuple[float, int]:
    """(share of equal soprano steps, shift) of `piece` against `rows` + shift, rows starting at `offset`.

    Only the melody is compared: the JSB file sometimes holds another harmonization of the same tune,
    and meter, fermatas and key belong to the tune.
    """
    a = piece[0, max(0, -offset):].astype(int)
    b = rows[0, max(0, offset):].astype(int)
    n = min(a.size, b.size)
    if n < 16:
        return 0.0, 0
    a, b = a[:n], b[:n]
    both = (a >= 0) & (b >= 0)
    if not both.any():
        return 0.0, 0
    values, counts = np.unique((a - b)[both], return_counts=True)
    shift = int(values[np.argmax(counts)])
    equal = np.where(both, a == b + shift, (a < 0) & (b < 0))
    # Normalised by the longer of the two (less the offset), so a piece does not match a fragment.
    return float(equal.sum() / max(piece.shape[1], rows.shape[1] - offset)), shift


def with_repeat(record: dict, piece: np.ndarray) -> dict | None:
    """The record with a passage played twice, as long as `piece`: steps 0..k, then back to j..end.

    A written-out repeat (the JSB file writes them out, the corpus often does not); k is chosen where
    the melody agrees best."""
    rows, length = record["rows"], piece.shape[1]
    extra = length - rows.shape[1]
    if not 0 < extra < rows.shape[1]:
        return None
    sop, target = rows[0].astype(int), piece[0].astype(int)
    best_k, best = None, -1.0
    for k in range(extra, rows.shape[1] + 1):
        j = k - extra
        candidate = np.concatenate([sop[:k], sop[j:]])
        sounding = (candidate >= 0) & (target >= 0)
        if not sounding.any():
            continue
        shift = np.bincount((target - candidate + 64)[sounding]).argmax() - 64
        score = float(np.mean(np.where(sounding, target == candidate + shift,
                                       (candidate < 0) & (target < 0))))
        if score > best:
            best_k, best = k, score
    if best_k is None:
        return None
    k, j = best_k, best_k - extra
    return {**record, "rows": np.concatenate([rows[:, :k], rows[:, j:]], axis=1),
            "fermatas": np.concatenate([record["fermatas"][:k], record["fermatas"][j:]])}


def match_piece(piece: np.ndarray, records: list[dict], index: dict) -> tuple:
    """(record, shift, offset, agreement) of the best match; record None when none is good enough.

    Candidates share soprano interval runs with the piece; each is tried at time offsets up to a bar
    (the JSB file and the corpus sometimes differ by a pickup or a held final chord)."""
    votes: dict[int, int] = {}
    for gram in _grams(piece):
        for i in index.get(gram, ()):
            votes[i] = votes.get(i, 0) + 1
    best = (None, 0, 0, 0.0)
    for i, _ in sorted(votes.items(), key=lambda kv: -kv[1])[:8]:
        for record in (records[i], with_repeat(records[i], piece)):
            if record is None:
                continue
            for offset in range(-16, 17):
                score, shift = agreement(piece, record["rows"], offset)
                if score > best[3]:
                    best = (record, shift, offset, score)
    return best if best[3] >= MIN_AGREEMENT else (None, 0, 0, best[3])


def metadata_for(piece: np.ndarray, record: dict, shift: int, offset: int) -> dict:
    """The record's metadata laid over the piece's own steps (offset and transposition applied)."""
    steps = piece.shape[1]
    fermatas = np.zeros(steps, dtype=bool)
    src = record["fermatas"]
    lo, hi = max(0, -offset), min(steps, src.shape[0] - offset)
    if hi > lo:
        fermatas[lo:hi] = src[lo + offset:hi + offset]
    num, den = record["time_signature"]
    bar = num * 16 // den
    tonic, minor = parse_key(record["key"]) or (0, False)
    return {"time_signature": (num, den), "pickup": (record["pickup"] - offset) % bar,
            "key": key_name(tonic + shift, minor), "fermatas": fermatas, "source": record["source"]}


def key_from_notes(piece: np.ndarray) -> str | None:
    """The key of a four-part piece with no match: tonic = the final bass note (chorales end on the
    tonic), mode = the better-fitting key profile for that tonic over all sounding steps."""
    bass = piece[3][piece[3] >= 0]
    if not bass.size:
        return None
    tonic = int(bass[-1]) % 12
    counts = np.bincount(piece[piece >= 0].astype(int) % 12, minlength=12).astype(float)
    rotated = np.roll(counts, -tonic)
    major_profile, minor_profile = PROFILES["krumhansl"]  # what the shipped model trained with
    major = np.corrcoef(rotated, major_profile)[0, 1]
    minor = np.corrcoef(rotated, minor_profile)[0, 1]
    return key_name(tonic, minor > major)


def match_dataset(pieces_by_split: dict[str, list[np.ndarray]], records: list[dict]) -> dict:
    """Per split, per piece: metadata dict or None; plus counts under "matched"."""
    index: dict[tuple, list[int]] = {}
    for i, r in enumerate(records):
        for gram in _grams(r["rows"]):
            index.setdefault(gram, []).append(i)
    out: dict = {"matched": {}}
    for split, pieces in pieces_by_split.items():
        found = []
        for piece in pieces:
            best, shift, offset, _ = match_piece(piece, records, index)
            if best is None:  # the key can still be read from Bach's own notes
                key = key_from_notes(piece)
                found.append(None if key is None else {"time_signature": None, "pickup": None,
                                                       "key": key, "fermatas": None, "source": ""})
            else:
                found.append(metadata_for(piece, best, shift, offset))
        out[split] = found
        matched = sum(m is not None and m["time_signature"] is not None for m in found)
        out["matched"][split] = f"{matched}/{len(found)}"
    return out


def load_jsb_metadata(json_path) -> dict:
    """Metadata of every JSB-16th piece (per split, in file order), matched against music21's corpus.

    Matching takes about a minute, so its result is cached per data file (by content hash)."""
    from engine.coconet.checkpoint import file_sha256

    cache = _cache_path().with_name(
        f"jsb16-meta-v{CACHE_VERSION}-{file_sha256(Path(json_path).expanduser())[:16]}.npz")
    if cache.is_file():
        try:
            return _load_matches(cache)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is matched again
    data = load_jsb16(json_path)
    found = match_dataset({s: data.split(s) for s in SPLITS}, corpus_records())
    _save_matches(cache, found)
    return found


def _save_matches(path: Path, found: dict) -> None:
    """The match result as JSON (fermatas aside, as arrays) in one .npz, written atomically."""
    arrays, listing = {}, {"matched": found["matched"]}
    for split in SPLITS:
        listing[split] = []
        for i, meta in enumerate(found[split]):
            if meta is not None and meta["fermatas"] is not None:
                arrays[f"{split}{i}"] = meta["fermatas"]
            listing[split].append(None if meta is None else {k: v for k, v in meta.items()
                                                             if k != "fermatas"})
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, listing=json.dumps(listing), **arrays)
    atomic_write_bytes(path, buffer.getvalue(), "metadata cache", error=DataError)


def _load_matches(path: Path) -> dict:
    with np.load(path) as data:
        listing = json.loads(str(data["listing"]))
        out = {"matched": listing["matched"]}
        for split in SPLITS:
            out[split] = [None if m is None else {
                **m, "time_signature": tuple(m["time_signature"]) if m["time_signature"] else None,
                "fermatas": data.get(f"{split}{i}")}
                for i, m in enumerate(listing[split])]
    return out


__all__ = ["agreement", "load_jsb_metadata", "match_dataset"]
