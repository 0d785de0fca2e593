"""The CLI reads MusicXML wherever it reads a score: info, check, export, harmonize inputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def cantor(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *map(str, args)], cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def chorale_xml(tmp_path_factory):
    from music21 import corpus

    path = tmp_path_factory.mktemp("cli_xml") / "bwv66_6.musicxml"
    corpus.parse("bwv66.6").write("musicxml", fp=str(path))
    return path


def test_info_and_check_read_musicxml(chorale_xml):
    run = cantor("info", chorale_xml)
    assert run.returncode == 0, run.stderr
    assert "read as:   MusicXML, 4 named voice parts" in run.stdout
    assert "key:       F#m" in run.stdout and "pickup of 4 16ths" in run.stdout
    check = cantor("check", chorale_xml, "--json")
    assert check.returncode == 0, check.stderr


def test_export_musicxml_to_musicxml_keeps_the_fermatas(chorale_xml, tmp_path):
    from engine.music.musicxml_read import load_musicxml

    out = tmp_path / "again.musicxml"
    run = cantor("export", chorale_xml, "-o", out)
    assert run.returncode == 0, run.stderr
    assert np_equal(load_musicxml(out).fermatas, load_musicxml(chorale_xml).fermatas)


def test_a_file_that_is_not_musicxml_is_one_line(tmp_path):
    bad = tmp_path / "bad.musicxml"
    bad.write_text("hello")
    run = cantor("info", bad)
    assert run.returncode == 1
    assert run.stderr.startswith("cantor: error: ") and run.stderr.count("\n") == 1
    assert "not a MusicXML file" in run.stderr


def np_equal(a, b) -> bool:
    import numpy as np

    return a is not None and b is not None and np.array_equal(a, b)
