"""`cantor check` end to end in a subprocess, on MIDI files written here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from engine.music.midi import save_midi
from engine.music.score import Score

ROOT = Path(__file__).resolve().parents[1]


def cantor(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)],
                          cwd=ROOT, check=False, capture_output=True, text=True, timeout=120)


def chorale(path: Path, *columns) -> Path:
    save_midi(Score(np.repeat(np.array(columns, dtype=np.int16).T, 4, axis=1)), path)
    return path


def test_check_reports_parallels_with_bar_and_beat(tmp_path):
    # C major to D minor in root position: fifths T-B and octaves A-B arrive on beat 2.
    path = chorale(tmp_path / "fifths.mid", [64, 60, 55, 48], [65, 62, 57, 50], [64, 60, 55, 48])
    run = cantor("check", path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "3 quarter notes, 4 findings" in lines[0]
    assert any("1:2" in line and "parallel fifths" in line and "T-B" in line for line in lines)
    assert any(line.split()[:3] == ["parallel", "fifths", "2"] for line in lines)


def test_check_json_has_counts_rates_and_findings(tmp_path):
    path = chorale(tmp_path / "cadence.mid", [72, 67, 64, 48], [72, 69, 65, 53], [71, 67, 62, 55],
                   [72, 67, 64, 48])
    data = json.loads(cantor("check", path, "--json").stdout)
    assert data["quarter_notes"] == 4 and data["findings"] == []
    assert set(data["counts"]) == set(data["rates_per_100_quarters"]) and not any(data["counts"].values())


def test_check_of_a_missing_file_is_a_one_line_error(tmp_path):
    run = cantor("check", tmp_path / "none.mid")
    assert run.returncode == 1 and run.stderr.startswith("cantor: error:") and "Traceback" not in run.stderr
