"""`cantor accompany` end to end through a subprocess, with a tiny checkpoint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.music.midi import load_midi

ROOT = Path(__file__).resolve().parents[1]


def cantor(*args, cwd=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *map(str, args)],
        check=False, capture_output=True, text=True, cwd=cwd, timeout=300,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import torch

    from tests.engine.accompany.test_accompany import make_tiny_checkpoint

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    path = make_tiny_checkpoint(tmp_path_factory.mktemp("cli-accompany"), steps=10)
    torch.set_num_threads(before)
    return path


def test_accompanies_a_melody_file(midi_maker, checkpoint, tmp_path):
    melody = midi_maker.melody()
    out = tmp_path / "out.mid"
    done = cantor("accompany", melody, "-o", out, "--checkpoint", checkpoint, "--seed", 2)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and out.is_file()
    source, result = load_midi(melody), load_midi(out)
    assert np.array_equal(result.pitches[0], source.pitches[0])
    assert (result.pitches[1:] >= 0).any()


def test_variants_are_written_best_first(midi_maker, checkpoint, tmp_path):
    out = tmp_path / "acc.mid"
    done = cantor("accompany", midi_maker.melody(), "-o", out, "--variants", "3",
                  "--checkpoint", checkpoint)
    assert done.returncode == 0, done.stderr
    files = [tmp_path / f"acc-{k}.mid" for k in (1, 2, 3)]
    assert all(f.is_file() for f in files) and not out.exists()
    nlls = [float(line.split("NLL ")[1].split()[0]) for line in done.stdout.splitlines() if "NLL" in line]
    assert nlls == sorted(nlls) and len(nlls) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["absent.mid", "-o", "out.mid"], "no such file"),
        (["MELODY", "-o", "missing/out.mid"], "does not exist"),
        (["MELODY", "-o", "out.mid", "--checkpoint", "absent.pt"], "checkpoint not found"),
        (["MELODY", "-o", "out.mid", "--checkpoint", "MELODY"], "melody.mid"),
        (["MELODY", "-o", "out.mid", "--voice", "X"], "unknown voice"),
    ],
)
def test_user_mistakes_are_one_line_errors(midi_maker, checkpoint, tmp_path, args, message,
                                           capsys, monkeypatch):
    """In-process through cli.main (the same code path as the executable, without its start-up)."""
    import cli

    monkeypatch.chdir(tmp_path)
    melody = midi_maker.melody()
    args = [str(melody) if a == "MELODY" else a for a in args]
    if "--checkpoint" not in args:
        args += ["--checkpoint", str(checkpoint)]
    assert cli.main(["accompany", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cantor: error:") and message in err and err.count("\n") == 1
    assert not (tmp_path / "out.mid").exists()


def test_bad_option_values_are_usage_errors(midi_maker, tmp_path, capsys):
    import cli

    with pytest.raises(SystemExit) as stop:
        cli.main(["accompany", str(midi_maker.melody()), "-o", str(tmp_path / "o.mid"), "--variants", "0"])
    assert stop.value.code == 2 and "variants" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        cli.main(["accompany", str(midi_maker.melody()), "-o", str(tmp_path / "o.mid"), "--repair", "x"])
    assert stop.value.code == 2 and "repair must be a whole number" in capsys.readouterr().err
