"""Pickups in MIDI files: marked by the file, inferred from the music, or turned off."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from engine.music.midi import load_midi, load_midi_report, save_midi
from engine.music.pickup import infer_pickup, pickup_scores
from engine.music.score import Score

TPQ = 480
TICKS_PER_STEP = TPQ // 4
Q, H, E, DH, DQ = 4, 8, 2, 12, 6  # quarter, half, eighth, dotted half, dotted quarter in 16ths

# Amazing Grace (3/4, a one-beat pickup), the first eight bars; the last bar is completed.
AMAZING_GRACE = [
    (62, Q),
    (67, H), (71, E), (67, E),
    (71, H), (69, Q),
    (67, H), (64, Q),
    (62, H), (62, Q),
    (67, H), (71, E), (67, E),
    (71, H), (69, Q),
    (74, DH),
    (74, H),
]  # fmt: skip

# Ode to Joy (4/4, no pickup).
ODE_TO_JOY = [
    (64, Q), (64, Q), (65, Q), (67, Q),
    (67, Q), (65, Q), (64, Q), (62, Q),
    (60, Q), (60, Q), (62, Q), (64, Q),
    (64, DQ), (62, E), (62, H),
    (64, Q), (64, Q), (65, Q), (67, Q),
    (67, Q), (65, Q), (64, Q), (62, Q),
    (60, Q), (60, Q), (62, Q), (64, Q),
    (62, DQ), (60, E), (60, H),
]  # fmt: skip

# A four-part hymn phrase in 4/4 whose soprano starts with two eighths before the bar line; the
# last bar is short by the pickup, as in Bach's chorales.
HYMN = {
    "Soprano": [(67, E), (69, E), (71, Q), (71, Q), (72, Q), (74, Q), (74, Q), (72, Q), (71, H),
                (69, Q), (71, Q), (72, Q), (69, Q), (71, Q), (69, Q), (67, H),
                (67, Q), (69, Q), (71, Q), (72, Q), (71, DH)],
    "Alto": [(62, Q), (62, Q), (67, Q), (67, Q), (66, Q), (67, Q), (69, Q), (67, H),
             (66, Q), (67, Q), (64, Q), (66, Q), (67, Q), (66, Q), (62, H),
             (64, Q), (66, Q), (67, Q), (67, Q), (67, DH)],
    "Tenor": [(59, Q), (55, Q), (62, Q), (64, Q), (57, Q), (59, Q), (64, Q), (62, H),
              (62, Q), (62, Q), (60, Q), (60, Q), (62, Q), (60, Q), (59, H),
              (60, Q), (62, Q), (62, Q), (64, Q), (62, DH)],
    "Bass": [(55, Q), (55, Q), (55, Q), (48, Q), (50, Q), (43, Q), (45, Q), (43, H),
             (50, Q), (43, Q), (45, Q), (50, Q), (43, Q), (50, Q), (55, H),
             (48, Q), (50, Q), (55, Q), (52, Q), (55, DH)],
}  # fmt: skip


def _track(name: str, channel: int, line: list[tuple[int, int]]) -> mido.MidiTrack:
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
    for pitch, steps in line:
        track.append(mido.Message("note_on", channel=channel, note=pitch, velocity=80, time=0))
        track.append(
            mido.Message("note_off", channel=channel, note=pitch, time=steps * TICKS_PER_STEP)
        )
    return track


def write_tune(path, voices: dict, meter=(4, 4), first_bar=None):
    """A type-1 file as other programs write it: a conductor track with the meter at tick 0
    (or a short `first_bar` meter, then `meter` at its bar line), then one track per voice."""
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=600000, time=0)])
    if first_bar is None:
        conductor.append(mido.MetaMessage("time_signature", numerator=meter[0],
                                          denominator=meter[1], time=0))  # fmt: skip
    else:
        conductor.append(mido.MetaMessage("time_signature", numerator=first_bar[0],
                                          denominator=first_bar[1], time=0))  # fmt: skip
        bar_ticks = first_bar[0] * 4 * TPQ // first_bar[1]
        conductor.append(mido.MetaMessage("time_signature", numerator=meter[0],
                                          denominator=meter[1], time=bar_ticks))  # fmt: skip
    midi = mido.MidiFile(type=1, ticks_per_beat=TPQ)
    midi.tracks.append(conductor)
    for channel, (name, line) in enumerate(voices.items()):
        midi.tracks.append(_track(name, channel, line))
    midi.save(str(path))
    return path


def test_three_four_tune_with_a_one_beat_pickup(tmp_path):
    path = write_tune(tmp_path / "grace.mid", {"Melody": AMAZING_GRACE}, meter=(3, 4))
    score, report = load_midi_report(path)
    assert (score.time_signature, score.pickup) == ((3, 4), 4)
    assert "pickup of 1 beat inferred from the music" in report.changes
    assert score.location_text(4) == "1:1" and score.location_text(16) == "2:1"
    assert score.bar_range(1, 1) == (4, 16)


def test_four_four_hymn_with_a_two_eighths_pickup(tmp_path):
    path = write_tune(tmp_path / "hymn.mid", HYMN)
    score, report = load_midi_report(path)
    assert report.source == "4 named voice tracks"
    assert score.pickup == 4
    assert "pickup of 1 beat inferred from the music" in report.changes
    assert score.num_bars == 6 and score.location_text(0) == "0:4"


def test_eighth_pickup_is_reported_in_beats(tmp_path):
    # Ode to Joy moved an eighth later, behind a single eighth-note upbeat
    path = write_tune(tmp_path / "eighth.mid", {"Melody": [(60, E), *ODE_TO_JOY]})
    score, report = load_midi_report(path)
    assert score.pickup == 2
    assert "pickup of 0.5 beats inferred from the music" in report.changes


def test_tune_without_a_pickup_keeps_none(tmp_path):
    path = write_tune(tmp_path / "ode.mid", {"Melody": ODE_TO_JOY})
    score, report = load_midi_report(path)
    assert score.pickup == 0
    assert not any("pickup" in change for change in report.changes)
    assert report.summary() == "one-line melody; read exactly"


def test_hymn_cut_to_start_on_the_bar_line_keeps_none(tmp_path):
    # the same hymn without its upbeat, its last chord held to fill the bar: six whole bars
    cut = {}
    for name, line in HYMN.items():
        upbeat = 2 if name == "Soprano" else 1
        cut[name] = [*line[upbeat:-1], (line[-1][0], 16)]
    score = load_midi(write_tune(tmp_path / "cut.mid", cut))
    assert score.num_steps == 96 and score.pickup == 0


def test_guess_turned_off(tmp_path):
    path = write_tune(tmp_path / "grace.mid", {"Melody": AMAZING_GRACE}, meter=(3, 4))
    score, report = load_midi_report(path, infer_pickup=False)
    assert score.pickup == 0
    assert not any("pickup" in change for change in report.changes)
    assert load_midi(path, infer_pickup=False).pickup == 0
    assert load_midi(path).pickup == 4


def test_short_first_bar_in_the_file_is_the_pickup(tmp_path):
    # the file marks a two-beat pickup (2/4, then 3/4); the music alone would suggest one beat
    path = write_tune(
        tmp_path / "marked.mid", {"Melody": AMAZING_GRACE}, meter=(3, 4), first_bar=(2, 4)
    )
    score, report = load_midi_report(path)
    assert (score.time_signature, score.pickup) == ((3, 4), 8)
    assert report.changes == []


def test_meter_changes_stop_the_guess(tmp_path):
    path = write_tune(tmp_path / "grace.mid", {"Melody": AMAZING_GRACE}, meter=(3, 4))
    midi = mido.MidiFile(str(path))
    end = midi.tracks[0].pop()  # end_of_track
    midi.tracks[0].append(mido.MetaMessage("time_signature", numerator=4, denominator=4,
                                           time=40 * TICKS_PER_STEP))  # fmt: skip
    midi.tracks[0].append(end)
    midi.save(str(path))
    score, report = load_midi_report(path)
    assert score.pickup == 0
    assert "meter changes ignored (kept 3/4)" in report.changes


def _grace_score(pickup: int) -> Score:
    row = [p for p, steps in AMAZING_GRACE for _ in range(steps)]
    pitches = np.full((4, len(row)), -1, dtype=np.int16)
    pitches[0] = row
    onsets = np.zeros(pitches.shape, dtype=bool)
    onsets[0, np.cumsum([0] + [steps for _, steps in AMAZING_GRACE[:-1]])] = True
    return Score(pitches, onsets, time_signature=(3, 4), pickup=pickup, title="Grace")


@pytest.mark.parametrize("pickup", [4, 0])
def test_cantor_files_keep_their_own_pickup(tmp_path, pickup):
    # cantor's own files state their pickup, even 0: the music is never asked
    score = _grace_score(pickup)
    save_midi(score, tmp_path / "own.mid")
    loaded, report = load_midi_report(tmp_path / "own.mid")
    assert loaded == score
    assert report.source == "cantor file" and report.changes == []


def test_rule_on_arrays_needs_two_bars_and_notes():
    score = _grace_score(0)
    assert infer_pickup(score.pitches, score.onsets, (3, 4)) == 4
    assert infer_pickup(score.pitches[:, :20], score.onsets[:, :20], (3, 4)) == 0
    silent = np.full((4, 64), -1, dtype=np.int16)
    assert pickup_scores(silent, np.zeros((4, 64), bool), (4, 4)) == {}
    scores = pickup_scores(score.pitches, score.onsets, (3, 4))
    assert sorted(scores) == list(range(12))  # every 16th step of a 3/4 bar is a candidate
    assert max(scores, key=scores.get) == 4
