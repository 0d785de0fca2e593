"""MusicXML export: parsed back by music21, every voice has the same pitch on every 16th."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from engine.errors import CantorError, ScoreError
from engine.music.musicxml import save_musicxml
from engine.music.score import Score


def _parsed_steps(path, length: int) -> np.ndarray:
    from music21 import converter

    parsed = converter.parse(str(path))
    rows = np.full((4, length), -1, dtype=np.int16)
    for v, part in enumerate(parsed.parts):
        for n in part.flatten().notes:
            start = round(float(n.offset) * 4)
            rows[v, start : start + round(float(n.quarterLength) * 4)] = n.pitch.midi
    return parsed, rows


@pytest.mark.parametrize("suffix", [".musicxml", ".mxl"])
def test_export_parses_back_to_the_same_pitches(tmp_path, suffix):
    pitches = np.array(
        [
            [60] * 5 + [-1] * 3 + [62] * 9 + [64] * 7,
            [-1] * 24,
            [55] * 24,
            [48, 50] * 12,
        ]
    )
    score = Score(pitches, time_signature=(3, 4), pickup=4, key="Bb", title="Little hymn")
    path = save_musicxml(score, tmp_path / f"out{suffix}")
    parsed, rows = _parsed_steps(path, score.num_steps)
    assert np.array_equal(rows, score.pitches)
    assert [p.partName for p in parsed.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    first = parsed.parts[0].getElementsByClass("Measure")[0]
    assert first.number == 0 and first.paddingLeft == 2.0  # a quarter pickup in 3/4
    assert parsed.recurse().getElementsByClass("TimeSignature")[0].ratioString == "3/4"
    assert parsed.recurse().getElementsByClass("KeySignature")[0].sharps == -2
    if suffix == ".mxl":
        assert zipfile.is_zipfile(path)
    else:
        assert "<work-title>Little hymn</work-title>" in path.read_text()


def test_export_of_a_chorale(tmp_path, chorale_midi):
    from engine.music.midi import load_midi

    score = load_midi(chorale_midi)
    path = save_musicxml(score, tmp_path / "c.xml")
    _, rows = _parsed_steps(path, score.num_steps)
    assert np.array_equal(rows, score.pitches)


def test_bad_name_and_missing_folder_leave_nothing(tmp_path):
    with pytest.raises(ScoreError, match=".musicxml"):
        save_musicxml(Score.empty(4), tmp_path / "out.pdf")
    with pytest.raises(CantorError, match="does not exist"):
        save_musicxml(Score.empty(4), tmp_path / "no" / "out.musicxml")
    assert list(tmp_path.iterdir()) == []


def test_empty_score_exports(tmp_path):
    path = save_musicxml(Score.empty(0), tmp_path / "e.musicxml")
    assert "<score-partwise" in path.read_text()


def test_a_short_last_bar_stays_short_an_empty_title_empty_and_each_part_has_its_clef(tmp_path):
    from engine.music.load import load_score_report

    pitches = np.full((4, 34), -1, dtype=np.int16)  # a quarter pickup, two bars, a half-bar end
    pitches[:, :] = np.array([72, 67, 60, 48])[:, None]
    pitches[:, 30:] = np.array([71, 67, 62, 43])[:, None]  # the last chord, under the fermata
    marks = np.zeros(34, dtype=bool)
    marks[30:] = True
    score = Score(pitches, pickup=4, fermatas=marks)
    path = save_musicxml(score, tmp_path / "short.musicxml")
    back, report = load_score_report(path)
    assert back.num_steps == 34 and back.title == "" and np.array_equal(back.pitches, pitches)
    assert report.summary().endswith("read exactly")
    text = path.read_text()
    assert "Untitled" not in text
    assert [line.strip() for line in text.splitlines() if "<sign>" in line] == [
        "<sign>G</sign>", "<sign>G</sign>", "<sign>G</sign>", "<sign>F</sign>"]
    assert 'type="inverted"' not in text and 'type="upright"' in text


def test_a_fermata_over_a_note_tied_across_a_bar_line_reads_back_whole(tmp_path):
    from engine.music.load import load_score

    pitches = np.full((4, 40), -1, dtype=np.int16)  # 3/4 with a quarter pickup
    pitches[:, :24] = np.array([72, 67, 60, 48])[:, None]
    pitches[:, 24:36] = np.array([74, 67, 59, 43])[:, None]  # a dotted half over the bar line
    pitches[:, 36:] = np.array([72, 64, 60, 48])[:, None]
    onsets = np.zeros_like(pitches, dtype=bool)
    onsets[:, [0, 24, 36]] = True
    marks = np.zeros(40, dtype=bool)
    marks[24:36] = True
    score = Score(pitches, onsets, time_signature=(3, 4), pickup=4, fermatas=marks)
    back = load_score(save_musicxml(score, tmp_path / "tied.musicxml"))
    assert np.array_equal(back.fermatas, marks)
