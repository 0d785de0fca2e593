"""`cantor evaluate` and `cantor train` through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.coconet.checkpoint import file_sha256
from engine.coconet.loading import save_coconet
from engine.coconet.model import Coconet, CoconetConfig

ROOT = Path(__file__).resolve().parents[1]
CHORDS = [[72, 67, 64, 48], [72, 69, 65, 53], [71, 67, 62, 55], [72, 67, 64, -1]]


def cantor(*args):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], check=False,
                          cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-evaluate")
    piece = [c for c in CHORDS for _ in range(3)]
    data = folder / "jsb.json"
    data.write_text(json.dumps({"train": [piece], "valid": [piece], "test": [piece, piece[:5]]}))
    torch.manual_seed(0)
    checkpoint = folder / "tiny.pt"
    save_coconet(checkpoint, Coconet(CoconetConfig(depth=2, width=4)), step=0, metrics={},
                 data={"source": "test"})
    return data, checkpoint


def test_evaluate_json(files):
    data, checkpoint = files
    done = cantor("evaluate", "--data", f"jsb16:{data}", "--split", "test", "--checkpoint",
                  checkpoint, "--draws", "2", "--seed", "3", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {"split", "pieces", "draws", "seed", "stratified", "nll_per_cell",
                           "nll_per_cell_cells", "nll_per_cell_with_silence", "metadata",
                           "metadata_pieces", "checkpoint_sha256", "seconds"}
    assert report["stratified"] is True and report["metadata"] is False
    assert report["split"] == "test" and report["pieces"] == 2 and report["draws"] == 2
    assert report["seed"] == 3 and report["checkpoint_sha256"] == file_sha256(checkpoint)
    assert 0 < report["nll_per_cell"] < 10


def test_metadata_is_reported_as_used_only_where_a_piece_had_some_and_an_empty_split_fails(
        files, tmp_path):
    data, _ = files
    torch.manual_seed(0)
    structured = tmp_path / "structured.pt"
    save_coconet(structured, Coconet(CoconetConfig(depth=2, width=4, cond_planes=10)), step=0,
                 metrics={}, data={"source": "test"})
    done = cantor("evaluate", "--data", f"jsb16:{data}", "--split", "test", "--checkpoint",
                  structured, "--draws", "1", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # made-up pieces: matched to no chorale, key estimated
    assert report["metadata"] is True and report["metadata_pieces"] == 0
    done = cantor("evaluate", "--data", "music21", "--split", "test", "--checkpoint", structured,
                  "--draws", "1", "--json")
    assert done.returncode == 0, done.stderr  # music21's corpus carries no recovered metadata
    report = json.loads(done.stdout)
    assert report["metadata"] is False and report["metadata_pieces"] == 0
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"train": [], "valid": [], "test": []}))
    done = cantor("evaluate", "--data", f"jsb16:{empty}", "--split", "test", "--checkpoint",
                  structured, "--draws", "1")
    assert done.returncode == 1 and "has no pieces" in done.stderr


def test_evaluate_baseline_and_text(files):
    data, _ = files
    done = cantor("evaluate", "--data", f"jsb16:{data}", "--baseline", "--draws", "1")
    assert done.returncode == 0, done.stderr
    assert "NLL per cell" in done.stdout and "baseline" in done.stdout


def test_evaluate_errors_are_one_line(files, tmp_path):
    data, checkpoint = files
    done = cantor("evaluate", "--data", f"jsb16:{tmp_path / 'none.json'}", "--checkpoint",
                  checkpoint)
    assert done.returncode == 1 and done.stderr.startswith("cantor: error: data file not found")
    assert "Traceback" not in done.stderr
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    done = cantor("evaluate", "--data", f"jsb16:{data}", "--checkpoint", bad)
    assert done.returncode == 1 and "damaged or truncated" in done.stderr
    assert cantor("evaluate", "--data", f"jsb16:{data}", "--draws", "0").returncode == 2


def test_train_bad_options(files, tmp_path):
    data, _ = files
    done = cantor("train", "coconet", "--data", f"jsb16:{data}", "--out", tmp_path / "r",
                  "--config", '{"depht": 4}')
    assert done.returncode == 1 and "unknown config key 'depht'" in done.stderr
    assert cantor("train", "coconet", "--data", "music21", "--minutes", "0").returncode == 2
    done = cantor("train", "coconet", "--data", "nowhere", "--max-steps", "1")
    assert done.returncode == 1 and "use jsb16:PATH or music21" in done.stderr


def test_train_tiny_run_writes_checkpoints(files, tmp_path):
    data, _ = files
    out = tmp_path / "run"
    done = cantor("train", "coconet", "--data", f"jsb16:{data}", "--out", out, "--max-steps", "2",
                  "--config", '{"preset": "tiny", "crop": 8}', "--threads", "1")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["step"] == 2 and (out / "best.pt").is_file() and (out / "last.pt").is_file()


def test_evaluate_names_the_shipped_model_it_scored(files):
    data, _ = files
    digests = {}
    for name in ("fast", "standard"):
        done = cantor("evaluate", "--data", f"jsb16:{data}", "--model", name, "--draws", "1", "--json")
        assert done.returncode == 0, done.stderr
        digests[name] = json.loads(done.stdout)["checkpoint_sha256"]
    from engine.coconet.loading import MODELS

    assert digests == {name: file_sha256(MODELS[name]) for name in digests}
