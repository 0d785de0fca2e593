"""`cantor info` and `cantor export` end to end, through a subprocess as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def cantor(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *map(str, args)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_info_on_a_music21_chorale(chorale_midi):
    run = cantor("info", chorale_midi)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "read as:   4 named voice tracks" in out
    assert "meter:     4/4" in out and "tempo:     96 BPM" in out and "key:       F#m" in out
    assert "length:    9 bars (144 16ths)" in out
    assert "Soprano    36 notes  E4 (64) .. E5 (76)" in out
    assert "Bass       41 notes  F#2 (42) .. D4 (62)" in out
    assert "meter:     4/4, pickup of 4 16ths (1 quarter)" in out
    assert "changes:\n  - pickup of 1 beat inferred from the music" in out


def test_info_json_on_a_chorale(chorale_midi):
    run = cantor("info", "--json", chorale_midi)
    facts = json.loads(run.stdout)
    assert [v["notes"] for v in facts["voices"]] == [36, 42, 44, 41]
    assert facts["time_signature"] == "4/4" and facts["pickup_steps"] == 4
    assert facts["changes"] == ["pickup of 1 beat inferred from the music"]


def test_info_on_a_one_track_melody(midi_maker):
    run = cantor("info", midi_maker.melody())
    assert run.returncode == 0, run.stderr
    assert "read as:   one-line melody" in run.stdout
    assert "Soprano     8 notes  C4 (60) .. C5 (72)" in run.stdout
    assert "Alto        - empty" in run.stdout and "Bass        - empty" in run.stdout
    assert "timing quantized to 16ths (largest shift 0.25 of a 16th)" in run.stdout


def test_info_on_piano_with_drums(midi_maker):
    run = cantor("info", "--json", midi_maker.piano_with_drums())
    assert run.returncode == 0, run.stderr
    facts = json.loads(run.stdout)
    assert facts["read_as"] == "1 line with chords"
    assert "8 drum notes (channel 10) ignored" in facts["changes"]
    assert facts["notes_dropped"] == 4
    assert [(v["low"], v["high"]) for v in facts["voices"]] == [
        (76, 79),
        (72, 76),
        (60, 67),
        (48, 55),
    ]


def test_info_on_a_truncated_file(chorale_midi, tmp_path):
    cut = tmp_path / "cut.mid"
    cut.write_bytes(chorale_midi.read_bytes()[:300])
    run = cantor("info", cut)
    assert run.returncode == 1 and run.stdout == ""
    assert (
        run.stderr
        == f"cantor: error: {cut}: the file is truncated (it ends in the middle of a track)\n"
    )


def test_info_on_a_text_file_renamed_mid(tmp_path):
    text = tmp_path / "notes.mid"
    text.write_text("Soprano: C D E F G\nAlto: tacet\n")
    run = cantor("info", text)
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"cantor: error: {text}: not a MIDI file (it does not start with an MThd header)"
    ]
    assert "Traceback" not in run.stderr


def test_export_writes_musicxml(chorale_midi, tmp_path):
    out = tmp_path / "chorale.musicxml"
    run = cantor("export", chorale_midi, "-o", out)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"wrote {out} (9 bars")
    assert "<part-name>Soprano</part-name>" in out.read_text()


def test_export_refuses_an_unknown_suffix(chorale_midi, tmp_path):
    run = cantor("export", chorale_midi, "-o", tmp_path / "x.pdf")
    assert run.returncode == 1 and run.stderr.startswith("cantor: error: MusicXML file name")
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_a_file_without_notes(tmp_path):
    import mido

    empty = tmp_path / "empty.mid"
    song = mido.MidiFile()
    song.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    song.save(empty)
    run = cantor("export", empty, "-o", tmp_path / "x.musicxml")
    assert run.returncode == 1 and "has no notes: nothing to export" in run.stderr
    assert not (tmp_path / "x.musicxml").exists()


def test_info_on_a_cantor_file_with_a_pickup(tmp_path):
    import numpy as np

    from engine.music.midi import save_midi
    from engine.music.score import Score

    pitches = np.array([[67] * 4 + [72] * 16, [64] * 20, [-1] * 4 + [55] * 16, [48] * 20])
    path = tmp_path / "upbeat.mid"
    save_midi(Score(pitches, time_signature=(3, 4), pickup=4, key="C", title="Upbeat"), path)
    out = cantor("info", path).stdout
    assert "read as:   cantor file" in out and "title:     Upbeat" in out
    assert "meter:     3/4, pickup of 4 16ths (1 quarter)" in out
    assert "Alto        1 note   E4 (64) .. E4 (64)  program 52" in out
    assert "Tenor       1 note   G3 (55)" in out


def test_info_spells_notes_in_the_key_given_or_estimated(tmp_path):
    from engine.music.midi import save_midi
    from engine.music.score import Score

    pitches = np.full((4, 32), -1, dtype=np.int16)
    pitches[0] = np.repeat([65, 70, 69, 67, 65, 70, 72, 65], 4)  # F Bb A G F Bb C F
    for key, told in (("F", "key:       F\n"), (None, "key:       F (not given; estimated")):
        path = tmp_path / f"tune-{key}.mid"
        save_midi(Score(pitches, key=key), path)
        run = cantor("info", path)
        assert run.returncode == 0, run.stderr
        assert told in run.stdout, run.stdout
        assert "F4 (65) .. C5 (72)" in run.stdout
        facts = json.loads(cantor("info", "--json", path).stdout)
        assert facts["key_estimate"] == (None if key else "F")
    high = np.where(pitches[0] >= 0, 70, -1)
    save_midi(Score(np.stack([high, pitches[1], pitches[2], pitches[3]]), key="F"), tmp_path / "bb.mid")
    assert "Bb4 (70) .. Bb4 (70)" in cantor("info", tmp_path / "bb.mid").stdout


def test_info_lists_the_fermatas_a_file_marks(tmp_path):
    from engine.music.midi import save_midi
    from engine.music.score import Score

    pitches = np.full((4, 32), -1, dtype=np.int16)
    pitches[0] = [72] * 8 + [74] * 8 + [76] * 8 + [72] * 8
    marks = np.zeros(32, bool)
    marks[8:16] = marks[24:] = True
    save_midi(Score(pitches, fermatas=marks), tmp_path / "f.mid")
    text = cantor("info", tmp_path / "f.mid")
    assert text.returncode == 0, text.stderr
    assert "fermatas:  at 1:3, at 2:3" in text.stdout
    facts = json.loads(cantor("info", tmp_path / "f.mid", "--json").stdout)
    assert facts["fermatas"] == ["1:3", "2:3"]
    save_midi(Score(pitches), tmp_path / "plain.mid")
    assert "fermatas:  (none marked)" in cantor("info", tmp_path / "plain.mid").stdout
