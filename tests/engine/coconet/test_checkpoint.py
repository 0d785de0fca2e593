import errno
import os
import pathlib
import pickle
import threading

import pytest
import torch

from engine.coconet.checkpoint import file_sha256, load_checkpoint, save_checkpoint
from engine.errors import CheckpointError


def payload():
    return {"kind": "coconet", "config": {"depth": 2}, "state_dict": {"w": torch.arange(6.0)},
            "step": 3, "metrics": {"valid_nll": 1.5}, "data": {"source": "test"}}


def test_round_trip(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, payload())
    loaded = load_checkpoint(path, "coconet")
    assert loaded["step"] == 3 and loaded["metrics"] == {"valid_nll": 1.5}
    assert torch.equal(loaded["state_dict"]["w"], torch.arange(6.0))
    assert len(file_sha256(path)) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left


def test_missing_keys_refused_on_save(tmp_path):
    with pytest.raises(CheckpointError, match="missing"):
        save_checkpoint(tmp_path / "m.pt", {"kind": "coconet"})
    assert not (tmp_path / "m.pt").exists()


def test_disk_full_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, payload())

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(CheckpointError, match=r"^cannot write checkpoint .*last\.pt: the disk is full$"):
        save_checkpoint(path, {**payload(), "step": 4})
    monkeypatch.undo()
    assert load_checkpoint(path, "coconet")["step"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_unsavable_payload_leaves_nothing_behind(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, payload())
    with pytest.raises(TypeError, match="cannot pickle"):  # the pickler's error passes unchanged
        save_checkpoint(path, {**payload(), "metrics": threading.Lock()})
    assert load_checkpoint(path, "coconet")["step"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_folders_are_made_on_save(tmp_path):
    path = tmp_path / "runs" / "a" / "m.pt"
    save_checkpoint(path, payload())
    assert load_checkpoint(path, "coconet")["step"] == 3


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt", "coconet")


def test_truncated_file(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, payload())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        load_checkpoint(path, "coconet")


def test_tampered_file(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, payload())
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        load_checkpoint(path, "coconet")


def test_wrong_kind(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, {**payload(), "kind": "accompany"})
    with pytest.raises(CheckpointError, match="'accompany' model, expected 'coconet'"):
        load_checkpoint(path, "coconet")


def test_not_a_dict(tmp_path):
    path = tmp_path / "m.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="not a cantor checkpoint"):
        load_checkpoint(path, "coconet")


class Exploit:
    """Unpickling this object would create a marker file (stands for running any code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.mark.parametrize("legacy", [False, True])
def test_malicious_pickle_is_refused(tmp_path, legacy):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    evil = {**payload(), "metrics": Exploit(marker)}
    if legacy:
        path.write_bytes(pickle.dumps(evil, protocol=2))
    else:
        torch.save(evil, path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused to load evil.pt: it holds code"):
        load_checkpoint(path, "coconet")
    assert not marker.exists()  # the code never ran


def test_garbage_file_is_damaged_not_malicious(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        load_checkpoint(path, "coconet")
