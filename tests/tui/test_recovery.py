"""Recovery files on a disk that fails: the last good autosave survives and nothing is left behind."""

import errno
import os

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
    path = recovery.write_recovery(None, chorale_bar(1), np.zeros((4, 16), bool))
    found = recovery.read_recovery(None)
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
