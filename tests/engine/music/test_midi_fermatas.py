"""Fermatas and keys survive a MIDI round trip; fermata markers of other programs are read."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from engine.music.midi import load_midi, save_midi
from engine.music.score import Score


def _score(**meta) -> Score:
    pitches = np.array([[72] * 8 + [74] * 8 + [76] * 16,
                        [67] * 16 + [67] * 16,
                        [60] * 32,
                        [48] * 12 + [-1] * 4 + [43] * 16])
    return Score(pitches, **meta)


def test_fermatas_survive_a_round_trip(tmp_path):
    fermatas = np.zeros(32, dtype=bool)
    fermatas[8:16] = True
    fermatas[24:32] = True  # up to the very end
    score = _score(fermatas=fermatas, key="F#m", pickup=4)
    back = load_midi(save_midi(score, tmp_path / "f.mid"))
    assert back.fermatas is not None
    assert np.array_equal(back.fermatas, fermatas)
    assert back == score


def test_the_markers_are_plain_named_markers_on_the_conductor_track(tmp_path):
    fermatas = np.zeros(32, dtype=bool)
    fermatas[8:16] = True
    save_midi(_score(fermatas=fermatas), tmp_path / "f.mid")
    midi = mido.MidiFile(tmp_path / "f.mid")
    tick, found = 0, []
    for msg in midi.tracks[0]:
        tick += msg.time
        if msg.type == "marker":
            found.append((tick, msg.text))
    assert found == [(8 * 120, "fermata"), (16 * 120, "fermata end")]


def test_unknown_and_none_on_purpose_are_kept_apart(tmp_path):
    unknown = load_midi(save_midi(_score(), tmp_path / "u.mid"))
    assert unknown.fermatas is None
    none = load_midi(save_midi(_score(fermatas=np.zeros(32, bool)), tmp_path / "n.mid"))
    assert none.fermatas is not None and not none.fermatas.any()


@pytest.mark.parametrize("key", ["Am", "Ebm", "C#m", "G#m", "Bb", "F#", "Dm"])
def test_minor_and_major_keys_round_trip(tmp_path, key):
    assert load_midi(save_midi(_score(key=key), tmp_path / "k.mid")).key == key


def test_a_fermata_text_from_another_program_covers_the_notes_under_it(midi_maker):
    # A foreign file: four quarter notes, a text event "Fermata" on the third; no end marker.
    notes = [m for i, p in enumerate((60, 62, 64, 65)) for m in midi_maker.note(0, p, i * 480,
                                                                                 i * 480 + 480)]
    notes.append(mido.MetaMessage("text", text="Fermata", time=2 * 480))
    score = load_midi(midi_maker.write("foreign.mid", [notes]))
    assert np.flatnonzero(score.fermatas).tolist() == [8, 9, 10, 11]
