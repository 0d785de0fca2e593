"""Recovery files on a disk that fails: the last good autosave survives and nothing is left behind."""

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from tui import recovery
from tui.document import Document

from .conftest import chorale_bar


def fail_with(code):
    def fail(*args):
        raise OSError(code, os.strerror(code))

    return fail


def test_full_disk_keeps_the_last_autosave(tmp_path, monkeypatch):
    target = tmp_path / "song.mid"
    path = recovery.write_recovery(target, chorale_bar(1), np.zeros((4, 16), bool))
    before = path.read_bytes()
    monkeypatch.setattr(os, "replace", fail_with(errno.ENOSPC))
    with pytest.raises(OSError) as caught:  # an OSError, which the document knows to ignore
        recovery.write_recovery(target, chorale_bar(2), np.ones((4, 32), bool))
    assert caught.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_autosave_does_not_wait_for_the_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", fail_with(errno.EIO))  # any fsync would fail the write
    song = tmp_path / "song.mid"  # never written: the recovery file is all there is
    path = recovery.write_recovery(song, chorale_bar(1), np.zeros((4, 16), bool))
    found = recovery.read_recovery(song)
    assert found is not None and found.path == path and found.score.same_notes(chorale_bar(1))


def test_editing_goes_on_when_autosave_fails(tmp_path, monkeypatch):
    target = tmp_path / "song.mid"
    doc = Document(chorale_bar(2), path=target)
    doc.put_note(60)
    path = recovery.recovery_path(target)
    saved = path.read_bytes()
    monkeypatch.setattr(os, "replace", fail_with(errno.EROFS))
    doc.start_selection(whole_bars=True)
    assert doc.erase()  # no exception reaches the editor
    assert doc.erased.any()
    assert path.read_bytes() == saved
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_untitled_sessions_each_have_their_own_file_and_recover_an_ended_one(tmp_path):
    import subprocess
    import sys

    mine = recovery.write_recovery(None, chorale_bar(1), np.zeros((4, 16), bool))
    assert str(os.getpid()) in mine.name
    assert recovery.read_recovery(None) is None  # this session's own edits are not offered
    # Another untitled session writes its own file, then dies: its edits are offered here.
    script = (
        "import numpy as np; from tui import recovery; from tests.tui.conftest import chorale_bar;"
        " print(recovery.write_recovery(None, chorale_bar(2), np.zeros((4, 32), bool)))"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
    ).stdout.strip()
    assert other != str(mine) and Path(other).exists() and Path(mine).exists()
    found = recovery.read_recovery(None)
    assert found is not None and str(found.path) == other and found.score.num_steps == 32
    kept = recovery.set_aside(None, found.path)
    assert kept is not None and recovery.read_recovery(None) is None  # offered once only


def test_a_named_files_edits_are_not_offered_to_another_session_while_its_own_runs(tmp_path):
    """Two sessions on one file (two browser tabs): the second must neither offer nor drop the
    first one's recovery file while the first runs; once it has ended, its edits are offered."""
    import subprocess
    import sys

    song = tmp_path / "song.mid"
    song.write_bytes(b"")
    os.utime(song, (1, 1))  # older than any autosave
    script = (
        "import sys, numpy as np; from pathlib import Path; from tui import recovery;"
        " from tests.tui.conftest import chorale_bar;"
        " recovery.write_recovery(Path(sys.argv[1]), chorale_bar(2), np.zeros((4, 32), bool));"
        " print('written', flush=True); sys.stdin.read()"
    )
    other = subprocess.Popen(
        [sys.executable, "-c", script, str(song)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert other.stdout.readline().strip() == "written"
        theirs = recovery.recovery_path(song)
        assert theirs.exists()
        assert recovery.read_recovery(song) is None  # the other session is still editing
        # This session edits the same file meanwhile: it autosaves beside theirs, never over it,
        # and dropping its own edits (a save, a quit without saving) leaves theirs alone.
        mine = recovery.write_recovery(song, chorale_bar(3), np.zeros((4, 48), bool))
        assert mine != theirs and mine.exists() and str(os.getpid()) in mine.name
        assert recovery.read_recovery(song).path == mine  # its own, as before
        recovery.discard_recovery(song)
        assert theirs.exists() and not mine.exists()
    finally:
        other.stdin.close()
        other.wait(timeout=30)
    found = recovery.read_recovery(song)  # it has ended: its edits are offered here
    assert found is not None and found.score.num_steps == 32
    # This session's own file is read as before.
    recovery.write_recovery(song, chorale_bar(1), np.zeros((4, 16), bool))
    assert recovery.read_recovery(song).score.num_steps == 16
