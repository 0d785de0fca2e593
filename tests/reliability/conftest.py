"""Shared helpers for the hostile-input tests: the CLI in a subprocess, private state and config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def private_homes(tmp_path, monkeypatch):
    """Recovery files and settings go to throw-away folders, never the user's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def cantor(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: PLW1510 (the exit code is checked)
        [sys.executable, "-m", "cli", *map(str, args)],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=timeout,
    )


def one_error_line(result: subprocess.CompletedProcess, status: int = 1) -> str:
    """The single `cantor: error:` line of a failed run (asserting there is exactly one)."""
    assert result.returncode == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cantor: error: "), result.stderr
    return lines[0]


def chorale_file(path: Path) -> Path:
    """A small SATB file written by cantor itself."""
    import numpy as np

    from engine.music.midi import save_midi
    from engine.music.score import Score

    rows = np.array([[72] * 16 + [74] * 16, [67] * 32, [64] * 16 + [59] * 16, [48] * 16 + [43] * 16])
    return save_midi(Score(rows.astype(np.int16)), path)
