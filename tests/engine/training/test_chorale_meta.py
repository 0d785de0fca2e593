"""The JSB-16th <-> music21 matcher, on chorales written in the test."""

from __future__ import annotations

import numpy as np

from engine.training.chorale_meta import _chorale_record, key_from_notes, match_dataset


def make_chorale(seed: int, bars: int = 8, pickup: int = 4) -> dict:
    """A record as parsed from the corpus: four voices of quarter/half notes, 4/4 with a pickup."""
    rng = np.random.default_rng(seed)
    steps = pickup + bars * 16
    rows = np.zeros((4, steps), dtype=np.int16)
    t = 0
    while t < steps:
        length = int(rng.choice([4, 4, 8]))
        chord = 60 + int(rng.integers(-5, 8))
        rows[:, t:t + length] = np.array([chord + 12, chord + 7, chord + 4, chord - 12])[:, None]
        t += length
    fermatas = np.zeros(steps, dtype=bool)
    fermatas[pickup + 2 * 16 - 8: pickup + 2 * 16] = True  # end of bar 2
    fermatas[-8:] = True
    return {"rows": rows, "fermatas": fermatas, "time_signature": (4, 4), "pickup": pickup,
            "key": "G", "source": f"chorale {seed}"}


def test_a_transposed_piece_finds_its_chorale_and_the_metadata_moves_with_it():
    records = [make_chorale(s) for s in range(6)]
    piece = records[3]["rows"] + 2  # up a tone: A major
    found = match_dataset({"train": [piece]}, records)
    meta = found["train"][0]
    assert found["matched"]["train"] == "1/1"
    assert meta["source"] == "chorale 3" and meta["key"] == "A"
    assert meta["time_signature"] == (4, 4) and meta["pickup"] == 4
    assert np.array_equal(meta["fermatas"], records[3]["fermatas"])


def test_a_piece_starting_later_keeps_its_bar_lines_and_fermatas():
    records = [make_chorale(s) for s in range(4)]
    piece = records[1]["rows"][:, 4:]  # the JSB file without the pickup
    meta = match_dataset({"valid": [piece]}, records)["valid"][0]
    assert meta["source"] == "chorale 1" and meta["pickup"] == 0
    assert np.array_equal(meta["fermatas"], records[1]["fermatas"][4:])


def test_a_written_out_repeat_still_matches():
    records = [make_chorale(s) for s in range(4)]
    rows = records[2]["rows"]
    piece = np.concatenate([rows[:, :36], rows], axis=1)  # first 2 bars and the pickup, twice
    meta = match_dataset({"test": [piece]}, records)["test"][0]
    assert meta["source"] == "chorale 2"
    assert meta["fermatas"][36 + 28:36 + 36].all()  # the fermata of bar 2, after the repeat


def test_an_unknown_piece_keeps_only_a_key_read_from_its_notes():
    records = [make_chorale(s) for s in range(3)]
    scale = [57, 59, 60, 62, 64, 65, 68, 69]  # A harmonic minor, ending on A
    piece = np.repeat(np.array(scale * 2, dtype=np.int16)[None], 4, axis=0) - [[0], [12], [19], [24]]
    meta = match_dataset({"test": [piece]}, records)["test"][0]
    assert meta["time_signature"] is None and meta["fermatas"] is None
    assert meta["key"] == key_from_notes(piece) == "Am"


def test_a_music21_chorale_gives_meter_pickup_key_and_fermatas():
    from music21 import corpus

    record = _chorale_record(corpus.parse("bwv66.6"))
    assert record["time_signature"] == (4, 4) and record["pickup"] == 4
    assert record["key"] == "F#m"
    assert record["fermatas"].sum() > 0 and record["fermatas"][-1]
    assert record["rows"].shape[0] == 4 and (record["rows"][0] >= 0).any()
