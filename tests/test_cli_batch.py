"""Many files in one command, and the quick start: subprocesses of the real `cantor`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.coconet.checkpoint import save_checkpoint
from engine.coconet.model import Coconet, CoconetConfig
from engine.music.midi import load_midi
from tests.test_cli_generate import melody_file

ROOT = Path(__file__).resolve().parents[1]


def cantor(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=ROOT, check=False,
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    torch.manual_seed(0)
    model = Coconet(CoconetConfig(depth=2, width=8))
    checkpoint = folder / "tiny.pt"
    save_checkpoint(checkpoint, {
        "kind": "coconet", "config": model.config.to_dict(), "state_dict": model.state_dict(),
        "step": 0, "metrics": {}, "data": {"source": "test"}})
    a = melody_file(folder / "a.mid", [72, 74, 76, 77])
    b = folder / "b.mid"
    b.write_bytes(b"MThd this is not a MIDI file")
    c = melody_file(folder / "c.mid", [67, 69, 71, 72, 74])
    return checkpoint, a, b, c


def test_batch_harmonize_writes_the_good_files_and_names_the_bad_one(files, tmp_path):
    checkpoint, a, b, c = files
    out = tmp_path / "out"
    run = cantor("harmonize", a, b, c, "-o", f"{out}/", "--steps", "2", "--repair", "1",
                 "--checkpoint", checkpoint)
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("cantor: error:")]
    assert len(errors) == 1 and errors[0].count(str(b)) == 1, run.stderr  # named once
    assert "Traceback" not in run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.mid", "c.mid"]
    for source in (a, c):
        written = load_midi(out / source.name)
        assert np.array_equal(written.pitches[0], load_midi(source).pitches[0])
        assert (written.pitches[1:] >= 0).any()
    assert "2 of 3 files written" in run.stdout


def test_batch_with_two_processes_gives_what_one_process_gives(files, tmp_path):
    checkpoint, a, _, c = files
    runs = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        run = cantor("infill", a, c, "-o", out, "--bars", "1", "--voices", "A,T", "--steps", "3",
                     "--repair", "0", "--jobs", jobs, "--checkpoint", checkpoint)
        assert run.returncode == 0, run.stderr
        runs[jobs] = {p.name: load_midi(p).pitches for p in out.iterdir()}
    assert sorted(runs[1]) == ["a.mid", "c.mid"]
    for name in runs[1]:
        assert np.array_equal(runs[1][name], runs[2][name])


def test_batch_refuses_two_inputs_with_one_name(files, tmp_path):
    checkpoint, a, _, _ = files
    twin = tmp_path / "other"
    twin.mkdir()
    copy = melody_file(twin / "a.mid", [60, 62])
    run = cantor("harmonize", a, copy, "-o", tmp_path / "out", "--checkpoint", checkpoint)
    assert run.returncode == 1 and "both be written to a.mid" in run.stderr
    assert not (tmp_path / "out" / "a.mid").exists()


SHOW_MODULES = (
    "import sys, runpy; sys.argv = ['cantor'] + sys.argv[1:]\n"
    "import cli\n"
    "try:\n    code = cli.main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
    "import json; print(json.dumps({'torch': 'torch' in sys.modules, 'code': code}),"
    " file=sys.stderr)\n"
)


@pytest.mark.parametrize("args", [["--help"], ["info", "{a}"], ["check", "{a}"],
                                  ["info", "{a}", "--json"], ["harmonize", "--help"]])
def test_quick_commands_never_import_torch(files, args):
    _, a, _, _ = files
    run = subprocess.run(
        [sys.executable, "-c", SHOW_MODULES, *[x.format(a=a) for x in args]], cwd=ROOT,
        capture_output=True, text=True, timeout=120, check=False)
    facts = json.loads(run.stderr.strip().splitlines()[-1])
    assert facts == {"torch": False, "code": 0}, run.stderr


@pytest.mark.parametrize("to_group", [True, False], ids=["terminal", "parent-only"])
def test_ctrl_c_stops_a_batch_with_jobs_at_once_and_writes_nothing_after(files, tmp_path, to_group):
    """Ctrl-C from a terminal reaches the whole process group; `kill -INT` the parent alone: either
    way the workers stop at once, no file is written after it and no temporary file is left."""
    import signal
    import time

    checkpoint, a, _, c = files
    inputs = []
    for k in range(6):
        inputs.append(tmp_path / f"m{k}.mid")
        inputs[-1].write_bytes((a if k % 2 else c).read_bytes())
    out = tmp_path / "out"
    launcher = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                "os.execv(sys.executable, [sys.executable] + sys.argv[1:])")
    process = subprocess.Popen(
        [sys.executable, "-c", launcher, str(ROOT / "cli.py"), "harmonize", *map(str, inputs),
         "-o", f"{out}/", "--checkpoint", str(checkpoint), "--steps", "10000", "--variants", "4", "--repair", "0",
         "--jobs", "2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while len(children_of(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3.0)  # the workers are sampling now
        workers = children_of(process.pid)
        if to_group:
            os.killpg(process.pid, signal.SIGINT)
        else:
            os.kill(process.pid, signal.SIGINT)
        began = time.monotonic()
        _, err = process.communicate(timeout=60)
        took = time.monotonic() - began
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130 and "interrupted" in err, err
    assert took < 20, f"took {took:.1f} s to stop"
    written = sorted(p.name for p in out.iterdir())
    time.sleep(2.0)
    assert sorted(p.name for p in out.iterdir()) == written  # nothing written afterwards
    assert not [n for n in written if n.startswith(".")]  # no temporary file left
    assert not any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in workers)


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_several_inputs_need_a_folder_not_a_midi_name(files, tmp_path):
    checkpoint, a, _, c = files
    run = cantor("harmonize", a, c, "-o", tmp_path / "both.mid", "--checkpoint", checkpoint)
    assert run.returncode == 1 and not (tmp_path / "both.mid").exists()
    assert "-o must be a folder, not" in run.stderr
