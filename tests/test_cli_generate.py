"""`cantor harmonize / infill / compose` end to end in subprocesses, with a tiny real checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.coconet.checkpoint import save_checkpoint
from engine.coconet.model import Coconet, CoconetConfig
from engine.music.counterpoint import check_score
from engine.music.midi import load_midi, save_midi
from engine.music.score import Score

ROOT = Path(__file__).resolve().parents[1]
MELODY = [72, 74, 76, 77, 79, 77, -1, 74]


def cantor(*args: str) -> subprocess.CompletedProcess:
    # One thread: a tiny model gains nothing from more, and CI cores are shared.
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *map(str, args)],
        cwd=ROOT, check=False, capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip


def melody_file(path: Path, notes=MELODY, **meta) -> Path:
    pitches = np.full((4, 4 * len(notes)), -1, dtype=np.int16)
    pitches[0] = np.repeat(notes, 4)
    save_midi(Score(pitches, **meta), path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generate")
    torch.manual_seed(0)
    model = Coconet(CoconetConfig(depth=2, width=8))
    checkpoint = folder / "tiny.pt"
    save_checkpoint(checkpoint, {
        "kind": "coconet", "config": model.config.to_dict(), "state_dict": model.state_dict(),
        "step": 0, "metrics": {}, "data": {"source": "test"},
    })  # fmt: skip
    return folder, checkpoint, melody_file(folder / "melody.mid")


def test_harmonize_writes_ranked_variants_keeping_the_melody(files, tmp_path):
    _, checkpoint, melody = files
    out = tmp_path / "out.mid"
    run = cantor("harmonize", melody, "-o", out, "--variants", "3", "--steps", "4",
                 "--seed", "5", "--checkpoint", checkpoint)  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = [line.split() for line in run.stdout.splitlines()[1:]]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert sorted(int(r[3]) for r in rows) == [5, 6, 7]
    assert [float(r[2]) for r in rows] == sorted(float(r[2]) for r in rows)
    given = load_midi(melody)
    for k in (1, 2, 3):
        score = load_midi(tmp_path / f"out-{k}.mid")
        assert np.array_equal(score.pitches[0], given.pitches[0])
        assert (score.pitches[1:] >= 0).any()
        assert int(rows[k - 1][4]) == len(check_score(score).findings)  # as `cantor check` counts
    assert not out.exists()


def test_harmonize_with_one_chord_a_bar_holds_the_lower_voices_through_each_bar(files, tmp_path):
    _, checkpoint, melody = files
    out = tmp_path / "held.mid"
    run = cantor("harmonize", melody, "-o", out, "--chords", "1", "--steps", "6",
                 "--checkpoint", checkpoint)  # fmt: skip
    assert run.returncode == 0, run.stderr
    score = load_midi(out)
    for v in (1, 2, 3):
        for bar in (score.pitches[v, :16], score.pitches[v, 16:]):
            assert len(set(bar.tolist())) == 1 and len(score.notes(v)) <= 2


def test_same_seed_gives_the_same_file_and_ancestral_works(files, tmp_path):
    _, checkpoint, melody = files
    for name in ("a.mid", "b.mid"):
        run = cantor("harmonize", melody, "-o", tmp_path / name, "--steps", "3", "--seed", "9",
                     "--sampler", "ancestral", "--checkpoint", checkpoint)  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert "seed 9" in run.stdout
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()


def test_repair_is_on_by_default_and_never_adds_findings(files, tmp_path):
    from commands.generate import DEFAULT_ROUNDS
    from engine.coconet.composer import DEFAULT_REPAIR
    from engine.music.counterpoint import check_score

    assert DEFAULT_ROUNDS == DEFAULT_REPAIR > 0  # the command line's copy of the engine's default
    _, checkpoint, melody = files
    found = {}
    for rounds in ("0", str(DEFAULT_ROUNDS), None):
        out = tmp_path / f"repair-{rounds}.mid"
        extra = [] if rounds is None else ["--repair", rounds]
        run = cantor("harmonize", melody, "-o", out, "--steps", "3", "--seed", "4",
                     "--checkpoint", checkpoint, *extra)  # fmt: skip
        assert run.returncode == 0, run.stderr
        found[rounds] = len(check_score(load_midi(out)).findings)
    assert found[None] <= found["0"]
    default = (tmp_path / "repair-None.mid").read_bytes()
    assert default == (tmp_path / f"repair-{DEFAULT_ROUNDS}.mid").read_bytes()


def test_a_high_melody_is_shifted_and_the_user_told(files, tmp_path):
    _, checkpoint, _ = files
    high = melody_file(tmp_path / "high.mid", [88, 91, 93, 91])
    run = cantor("harmonize", high, "-o", tmp_path / "o.mid", "--steps", "2",
                 "--checkpoint", checkpoint)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "note: soprano shifted down an octave" in run.stdout
    assert np.array_equal(load_midi(tmp_path / "o.mid").pitches[0], load_midi(high).pitches[0])


def test_infill_rewrites_only_the_chosen_bars_and_voices(files, tmp_path):
    _, checkpoint, melody = files
    full = tmp_path / "full.mid"
    assert cantor("harmonize", melody, "-o", full, "--steps", "2",
                  "--checkpoint", checkpoint).returncode == 0  # fmt: skip
    out = tmp_path / "infilled.mid"
    run = cantor("infill", full, "-o", out, "--bars", "2", "--voices", "A,T", "--steps", "3",
                 "--seed", "4", "--checkpoint", checkpoint)  # fmt: skip
    assert run.returncode == 0, run.stderr
    before, after = load_midi(full), load_midi(out)
    assert np.array_equal(before.pitches[:, :16], after.pitches[:, :16])
    assert np.array_equal(before.pitches[[0, 3]], after.pitches[[0, 3]])


def test_compose_in_three_four_with_a_pickup(files, tmp_path):
    _, checkpoint, _ = files
    out = tmp_path / "new.mid"
    run = cantor("compose", "-o", out, "--bars", "2", "--meter", "3/4", "--pickup", "1",
                 "--steps", "2", "--checkpoint", checkpoint)  # fmt: skip
    assert run.returncode == 0, run.stderr
    score = load_midi(out)
    assert score.time_signature == (3, 4) and score.pickup == 4
    assert score.num_steps == 4 + 2 * 12


def test_compose_in_a_key_with_phrase_ends_read_back_from_the_file(files, tmp_path):
    _, checkpoint, _ = files
    out = tmp_path / "new.mid"
    run = cantor("compose", "-o", out, "--bars", "4", "--key", "d minor", "--steps", "2",
                 "--checkpoint", checkpoint)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "composed in D minor, 2 phrases of 2 bars" in run.stdout + run.stderr
    score = load_midi(out)
    assert score.key == "Dm"
    marks = np.flatnonzero(score.fermatas)
    assert marks.tolist() == list(range(24, 32)) + list(range(56, 64))
    assert score.pitches[0, -1] % 12 == 2 and score.pitches[3, -1] % 12 == 2  # D over D
    bad = cantor("compose", "-o", out, "--key", "H minor", "--checkpoint", checkpoint)
    assert bad.returncode == 2 and "unknown key 'H minor'" in bad.stderr


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["harmonize", "{melody}", "-o", "{tmp}/x.mid", "--checkpoint", "{tmp}/none.pt"], 1,
         "checkpoint not found"),
        (["harmonize", "{tmp}/none.mid", "-o", "{tmp}/x.mid", "--checkpoint", "{ckpt}"], 1,
         "no such file"),
        (["harmonize", "{melody}", "-o", "{tmp}/no/x.mid", "--checkpoint", "{ckpt}"], 1,
         "does not exist"),
        (["harmonize", "{melody}", "-o", "{tmp}/x.mid", "--keep", "A", "--checkpoint", "{ckpt}"],
         1, "no notes in the alto"),
        (["infill", "{melody}", "-o", "{tmp}/x.mid", "--bars", "3-5", "--checkpoint", "{ckpt}"],
         1, "bars must be in range 1..2"),
        (["infill", "{melody}", "-o", "{tmp}/x.mid", "--bars", "two"], 2, "bars must look like"),
        (["compose", "-o", "{tmp}/x.mid", "--meter", "4/5"], 2, "meter must be"),
        (["harmonize", "{melody}", "-o", "{tmp}/x.mid", "--variants", "0"], 2, "variants must"),
        (["harmonize", "{melody}", "-o", "{tmp}/x.mid", "--repair", "-1"], 2, "repair must"),
        (["harmonize", "{melody}", "-o", "{tmp}/x.mid", "--chords", "often"], 2, "--chords: must"),
        (["compose", "-o", "{tmp}/x.mid", "--chords", "melody", "--checkpoint", "{ckpt}"], 1,
         "needs a kept melody"),
    ],
)
def test_mistakes_are_one_line_errors_and_write_nothing(files, tmp_path, args, code, message):
    _, checkpoint, melody = files
    fill = {"melody": melody, "tmp": tmp_path, "ckpt": checkpoint}
    run = cantor(*[a.format(**fill) for a in args])
    assert run.returncode == code
    assert message in run.stderr and "Traceback" not in run.stderr
    if code == 1:
        assert run.stderr.startswith("cantor: error: ") and run.stderr.count("\n") == 1
    assert not (tmp_path / "x.mid").exists()


def test_harmonize_opens_on_the_tonic_unless_told_free(files, tmp_path):
    _, checkpoint, _ = files
    melody = melody_file(tmp_path / "in_c.mid", key="C")
    run = cantor("harmonize", melody, "-o", tmp_path / "tonic.mid", "--steps", "3",
                 "--checkpoint", checkpoint)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (load_midi(tmp_path / "tonic.mid").pitches[3, :4] == 48).all()  # C3 under the first C
    free = [cantor("harmonize", melody, "-o", tmp_path / f"free{s}.mid", "--steps", "3",
                   "--seed", str(s), "--opening", "free", "--checkpoint", checkpoint)
            for s in (1, 2, 3)]  # fmt: skip
    assert all(r.returncode == 0 for r in free), free[0].stderr
    assert any((load_midi(tmp_path / f"free{s}.mid").pitches[3, :4] != 48).any() for s in (1, 2, 3))
    bad = cantor("harmonize", melody, "-o", tmp_path / "x.mid", "--opening", "major")
    assert bad.returncode == 2 and "invalid choice: 'major'" in bad.stderr


def test_harmonize_ends_on_the_tonic_unless_told_free(files, tmp_path):
    _, checkpoint, _ = files
    melody = melody_file(tmp_path / "ends_on_e.mid", notes=[74, 72, 71, 72, 74, 76], key="C")
    run = cantor("harmonize", melody, "-o", tmp_path / "tonic.mid", "--steps", "3",
                 "--checkpoint", checkpoint)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (load_midi(tmp_path / "tonic.mid").pitches[3, -4:] == 48).all()  # C3 under the last E
    free = [cantor("harmonize", melody, "-o", tmp_path / f"free{s}.mid", "--steps", "3",
                   "--seed", str(s), "--ending", "free", "--checkpoint", checkpoint)
            for s in (1, 2, 3)]  # fmt: skip
    assert all(r.returncode == 0 for r in free), free[0].stderr
    assert any((load_midi(tmp_path / f"free{s}.mid").pitches[3, -4:] != 48).any() for s in (1, 2, 3))
    bad = cantor("harmonize", melody, "-o", tmp_path / "x.mid", "--ending", "half")
    assert bad.returncode == 2 and "invalid choice: 'half'" in bad.stderr


def test_model_fast_is_the_shipped_fast_checkpoint(files, tmp_path):
    """--model fast writes what --checkpoint engine/weights/coconet-fast.pt writes (same seed),
    and other music than the standard model; --model with --checkpoint is refused."""
    from engine.coconet.loading import FAST_COCONET

    _, _, melody = files
    written = {}
    for name, how in (("fast", ["--model", "fast"]), ("file", ["--checkpoint", FAST_COCONET]),
                      ("standard", [])):
        out = tmp_path / f"{name}.mid"
        run = cantor("harmonize", melody, "-o", out, "--steps", "4", "--repair", "0", "--seed", "3",
                     "--threads", "1", *how)
        assert run.returncode == 0, run.stderr
        written[name] = load_midi(out).pitches
    assert np.array_equal(written["fast"], written["file"])
    assert not np.array_equal(written["fast"], written["standard"])
    run = cantor("harmonize", melody, "-o", tmp_path / "x.mid", "--model", "fast",
                 "--checkpoint", FAST_COCONET)
    assert run.returncode == 2 and "not allowed with argument --model" in run.stderr
    run = cantor("infill", melody, "-o", tmp_path / "x.mid", "--bars", "1", "--model", "huge")
    assert run.returncode == 2 and "invalid choice: 'huge'" in run.stderr
    assert not (tmp_path / "x.mid").exists()


def test_no_variant_file_may_be_the_input_and_all_are_checked_before_sampling(files, tmp_path):
    """`-o out.mid --variants 2` writes out-1.mid and out-2.mid: an input of that name is never
    replaced, and a variant name that cannot be written fails before anything is written."""
    _, checkpoint, melody = files
    source = tmp_path / "take-1.mid"
    source.write_bytes(melody.read_bytes())
    before = source.read_bytes()
    for command in (["harmonize", source, "-o", tmp_path / "take.mid"],
                    ["infill", source, "-o", tmp_path / "take.mid", "--bars", "1"],
                    ["accompany", source, "-o", tmp_path / "take.mid"]):
        if command[0] != "accompany":
            command += ["--checkpoint", checkpoint, "--steps", "2"]
        result = cantor(*map(str, command), "--variants", "2", "--repair", "0")
        assert result.returncode == 1, (command, result.stdout)
        assert "take-1.mid: it is the input file" in result.stderr
        assert source.read_bytes() == before and not (tmp_path / "take-2.mid").exists()
    (tmp_path / "set-2.mid").mkdir()  # the second variant's name is a folder
    result = cantor("harmonize", str(melody), "-o", str(tmp_path / "set.mid"), "--variants", "2",
                    "--checkpoint", str(checkpoint), "--steps", "2")
    assert result.returncode == 1 and "set-2.mid: it is a folder" in result.stderr
    assert not (tmp_path / "set-1.mid").exists()  # not half a set


def test_a_folder_that_takes_no_new_file_is_found_before_sampling(files, tmp_path):
    """A folder that refuses new files (here sysfs, which refuses even root) fails at once."""
    _, checkpoint, melody = files
    folder = Path("/sys/kernel")
    if not folder.is_dir():
        pytest.skip("no /sys/kernel on this machine")
    target = folder / "x.mid"
    result = cantor("harmonize", str(melody), "-o", str(target), "--checkpoint", str(checkpoint),
                    "--steps", "2")
    assert result.returncode == 1 and result.stdout == ""  # nothing sampled, nothing printed
    assert result.stderr.strip() == f"cantor: error: cannot write MIDI file {target}: permission denied"


def test_export_never_writes_over_its_input(tmp_path):
    from engine.music.musicxml import save_musicxml

    score = tmp_path / "score.musicxml"
    save_musicxml(Score(np.full((4, 16), 60, dtype=np.int16)), score)
    before = score.read_bytes()
    result = cantor("export", str(score), "-o", str(score))
    assert result.returncode == 1 and "it is the input file" in result.stderr
    assert score.read_bytes() == before


def test_every_reported_seed_can_be_given_back(files, tmp_path):
    """At the top of the seed range the variants' seeds wrap to 0: each one reported is accepted
    by --seed and gives that variant again."""
    _, checkpoint, melody = files
    out = tmp_path / "top.mid"
    run = cantor("harmonize", str(melody), "-o", str(out), "--variants", "2", "--seed",
                 "4294967295", "--checkpoint", str(checkpoint), "--steps", "2", "--repair", "0")
    assert run.returncode == 0, run.stderr
    rows = [line.split() for line in run.stdout.splitlines() if line.strip()[:1].isdigit()]
    seeds = sorted(int(row[3]) for row in rows)
    assert seeds == [0, 4294967295]
    for row in rows:
        again = tmp_path / f"again-{row[3]}.mid"
        one = cantor("harmonize", str(melody), "-o", str(again), "--seed", row[3],
                     "--checkpoint", str(checkpoint), "--steps", "2", "--repair", "0")
        assert one.returncode == 0, one.stderr
        assert load_midi(again).same_notes(load_midi(row[1]))
