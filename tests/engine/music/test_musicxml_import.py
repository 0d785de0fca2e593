"""MusicXML import: a Bach chorale from music21's corpus, round trips with fermatas, odd layouts."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import CantorError, MusicXMLError
from engine.music.load import load_score, load_score_report
from engine.music.midi import save_midi
from engine.music.musicxml import save_musicxml
from engine.music.musicxml_read import load_musicxml, load_musicxml_report
from engine.music.score import Score


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


@pytest.fixture(scope="module")
def chorale_file(tmp_path_factory):
    """BWV 66.6 from music21's corpus, written by music21 as MusicXML."""
    from music21 import corpus

    path = tmp_path_factory.mktemp("xml") / "bwv66_6.musicxml"
    corpus.parse("bwv66.6").write("musicxml", fp=str(path))
    return path


def test_a_bach_chorale_reads_with_meter_pickup_key_and_fermatas(chorale_file):
    from music21 import converter, expressions

    score, report = load_musicxml_report(chorale_file)
    assert score.time_signature == (4, 4)
    assert score.pickup == 4  # a quarter-note upbeat
    assert score.key == "F#m"
    assert report.summary() == "MusicXML, 4 named voice parts; read exactly"
    # Fermatas where music21 itself sees them on the soprano's notes.
    soprano = converter.parse(str(chorale_file)).parts[0].flatten().notes
    starts = [round(float(n.offset) * 4) for n in soprano
              if any(isinstance(e, expressions.Fermata) for e in n.expressions)]
    assert len(starts) == 6
    assert [a for a, _ in _runs(score.fermatas)] == starts
    # The notes: the soprano's pitches step by step as music21 reads them.
    row = np.full(score.num_steps, -1)
    for n in soprano:
        start = round(float(n.offset) * 4)
        row[start : start + round(float(n.quarterLength) * 4)] = n.pitch.midi
    assert np.array_equal(score.pitches[0], row)
    assert all((score.pitches[v] >= 0).mean() > 0.9 for v in range(4))


@pytest.mark.parametrize("suffix", [".musicxml", ".mxl"])
def test_fermatas_key_meter_and_pickup_survive_a_musicxml_round_trip(tmp_path, suffix):
    # A quarter pickup and three bars of 3/4 (MusicXML bars are whole: the length is too).
    pitches = np.array([[67] * 4 + [72] * 8 + [74] * 4 + [76] * 12 + [-1] * 4 + [79] * 8,
                        [64] * 4 + [67] * 12 + [67] * 16 + [71] * 8,
                        [60] * 16 + [58] * 16 + [62] * 8,
                        [48] * 4 + [45] * 8 + [43] * 4 + [48] * 16 + [43] * 8])
    fermatas = np.zeros(40, dtype=bool)
    fermatas[16:28] = True  # the soprano's E5, under which the alto and bass hold
    fermatas[32:40] = True
    score = Score(pitches, time_signature=(3, 4), pickup=4, key="Gm", title="Round", fermatas=fermatas,
                  tempo_bpm=72)
    back = load_musicxml(save_musicxml(score, tmp_path / f"r{suffix}"))
    assert np.array_equal(back.pitches, score.pitches)
    assert np.array_equal(back.onsets, score.onsets)
    assert np.array_equal(back.fermatas, fermatas)
    assert (back.time_signature, back.pickup, back.key, back.title, back.tempo_bpm) == (
        (3, 4), 4, "Gm", "Round", 72.0)


def test_no_fermatas_read_as_unknown(tmp_path):
    score = Score(np.array([[72] * 16, [67] * 16, [60] * 16, [48] * 16]), key="F")
    back = load_musicxml(save_musicxml(score, tmp_path / "plain.xml"))
    assert back.fermatas is None
    assert back.key == "F"


def _write(stream, path):
    stream.write("musicxml", fp=str(path))
    return path


def test_five_parts_keep_the_top_three_and_the_bass_and_say_so(tmp_path):
    from music21 import note, stream

    work = stream.Score()
    for i, (name, pitch) in enumerate(
        [("Violin", 79), ("Soprano", 72), ("Alto", 67), ("Tenor", 60), ("Bass", 48)]
    ):
        part = stream.Part(id=f"p{i}")
        part.partName = name
        part.append(note.Note(pitch, quarterLength=4))
        work.insert(0, part)
    score, report = load_musicxml_report(_write(work, tmp_path / "five.musicxml"))
    assert "5 parts: the top three and the lowest read, Tenor left out" in report.summary()
    assert score.pitches[:, 0].tolist() == [79, 72, 67, 48]


def test_two_staves_with_two_voices_each_give_four_voices(tmp_path):
    from music21 import note, stream

    work = stream.Score()
    for p, (upper, lower) in enumerate([((72, 74), (67, 65)), ((60, 59), (48, 43))]):
        part = stream.Part(id=f"staff{p}")
        measure = stream.Measure(number=1)
        for vid, pitches in (("1", upper), ("2", lower)):
            voice = stream.Voice(id=vid)
            for pitch in pitches:
                voice.append(note.Note(pitch, quarterLength=2))
            measure.insert(0, voice)
        part.append(measure)
        work.insert(0, part)
    score = load_musicxml(_write(work, tmp_path / "staves.musicxml"))
    assert score.pitches[:, 0].tolist() == [72, 67, 60, 48]
    assert score.pitches[:, 8].tolist() == [74, 65, 59, 43]


def test_chords_are_split_by_pitch_order_and_the_report_says_so(tmp_path):
    from music21 import chord, stream

    part = stream.Part()
    part.append(chord.Chord([48, 60, 67, 76], quarterLength=4))
    part.append(chord.Chord([43, 59, 67, 74], quarterLength=4))
    work = stream.Score([part])
    score, report = load_musicxml_report(_write(work, tmp_path / "chords.musicxml"))
    assert score.pitches[:, 0].tolist() == [76, 67, 60, 48]
    assert score.pitches[:, 16].tolist() == [74, 67, 59, 43]
    assert "pitch order" in report.summary()


def test_bad_files_give_one_line_errors(tmp_path):
    text = tmp_path / "notes.musicxml"
    text.write_text("just some words\n")
    with pytest.raises(MusicXMLError, match="not a MusicXML file"):
        load_musicxml(text)
    broken = tmp_path / "broken.mxl"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(MusicXMLError, match="damaged .mxl"):
        load_musicxml(broken)
    cut = tmp_path / "cut.musicxml"
    cut.write_text('<?xml version="1.0"?><score-partwise><part-list><score-part id="P1">')
    with pytest.raises(MusicXMLError) as caught:
        load_musicxml(cut)
    assert "\n" not in str(caught.value)
    with pytest.raises(MusicXMLError, match="no such file"):
        load_musicxml(tmp_path / "missing.musicxml")


def test_load_score_chooses_by_name_and_by_content(tmp_path, chorale_file):
    score = load_score(chorale_file)
    midi = save_midi(score, tmp_path / "c.mid")
    assert load_score(midi) == load_score(midi)  # the MIDI reader
    assert np.array_equal(load_score(midi).pitches, score.pitches)
    unnamed = tmp_path / "chorale"
    unnamed.write_bytes(chorale_file.read_bytes())
    loaded, report = load_score_report(unnamed)
    assert report.source.startswith("MusicXML")
    assert np.array_equal(loaded.pitches, score.pitches)
    (tmp_path / "notes.txt").write_text("neither MIDI nor MusicXML")
    with pytest.raises(CantorError, match="not a MIDI file"):
        load_score(tmp_path / "notes.txt")


def test_a_key_change_is_said_to_be_ignored(tmp_path):
    from music21 import key, note, stream

    part = stream.Part(id="p0")
    first, second = stream.Measure(number=1), stream.Measure(number=2)
    first.append(key.Key("C"))
    first.append(note.Note(72, quarterLength=4))
    second.append(key.Key("E-"))
    second.append(note.Note(75, quarterLength=4))
    part.append([first, second])
    work = stream.Score()
    work.insert(0, part)
    score, report = load_musicxml_report(_write(work, tmp_path / "change.musicxml"))
    assert score.key == "C" and "key changes ignored (kept the first key)" in report.summary()


@pytest.mark.parametrize("programs", [(0, 40, 41, 42), (19, 0, 71, 127), (52, 52, 52, 52)])
def test_each_parts_general_midi_program_survives_a_round_trip(tmp_path, programs):
    # Program 0 included: music21 alone reads <midi-program>1</midi-program> as unset and gives a
    # part named Soprano its "Soprano" instrument's program 53.
    score = Score(np.array([[72] * 16, [67] * 16, [60] * 16, [48] * 16]), programs=programs)
    for name in ("p.musicxml", "p.mxl"):
        assert load_musicxml(save_musicxml(score, tmp_path / name)).programs == programs


def test_parts_without_a_program_take_cantors_default_and_a_dropped_part_its_own(tmp_path):
    from music21 import instrument, note, stream

    from engine.music.score import DEFAULT_PROGRAMS

    plain = stream.Score()
    for i, pitch in enumerate((72, 67, 60, 48)):
        part = stream.Part(id=f"p{i}")
        part.append(note.Note(pitch, quarterLength=4))
        plain.insert(0, part)
    assert load_musicxml(_write(plain, tmp_path / "plain.musicxml")).programs == DEFAULT_PROGRAMS
    five = stream.Score()
    for i, (pitch, program) in enumerate(((79, 40), (72, 0), (67, 68), (60, 70), (48, 32))):
        part = stream.Part(id=f"q{i}")
        sound = instrument.Instrument()
        sound.midiProgram = program
        part.insert(0, sound)
        part.append(note.Note(pitch, quarterLength=4))
        five.insert(0, part)
    assert load_musicxml(_write(five, tmp_path / "five.musicxml")).programs == (40, 0, 68, 32)
