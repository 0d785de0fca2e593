import errno
import json
import os

import numpy as np
import pytest
import torch

from engine.music.pianoroll import MODEL_HIGH, MODEL_LOW, SILENCE_CLASS, to_classes
from engine.training.datasets import (
    CropSampler,
    DataError,
    allowed_shifts,
    load_data,
    load_jsb16,
    load_pieces,
    pieces_to_classes,
    save_pieces,
    split_music21,
    transpose_classes,
)


def write_jsb(tmp_path, pieces=None):
    piece = [[72, 67, 64, 48], [72, 67, 64, 48], [74, 65, 62, 50], [-1, 65, 62, 50]]
    data = pieces or {"train": [piece, piece * 3], "valid": [piece], "test": [piece * 2]}
    path = tmp_path / "jsb.json"
    path.write_text(json.dumps(data))
    return path


def test_load_jsb16_shapes_and_values(tmp_path):
    data = load_jsb16(write_jsb(tmp_path))
    assert [len(data.split(s)) for s in ("train", "valid", "test")] == [2, 1, 1]
    first = data.split("train")[0]
    assert first.shape == (4, 4) and first.dtype == np.int16
    assert first[:, 0].tolist() == [72, 67, 64, 48] and first[0, 3] == -1
    assert data.split("train")[1].shape == (4, 12)
    assert data.provenance["source"] == "jsb16:jsb.json"
    with pytest.raises(DataError, match="unknown split"):
        data.split("dev")


def test_load_data_specs_and_errors(tmp_path):
    path = write_jsb(tmp_path)
    assert len(load_data(f"jsb16:{path}").split("valid")) == 1
    with pytest.raises(DataError, match="use jsb16:PATH or music21"):
        load_data("midi:/x")
    with pytest.raises(DataError, match="not found"):
        load_data(f"jsb16:{tmp_path / 'missing.json'}")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not a readable JSON"):
        load_jsb16(tmp_path / "bad.json")
    (tmp_path / "keys.json").write_text(json.dumps({"train": []}))
    with pytest.raises(DataError, match="train, valid and test"):
        load_jsb16(tmp_path / "keys.json")
    (tmp_path / "shape.json").write_text(json.dumps({"train": [[[60, 60]]], "valid": [],
                                                     "test": []}))
    with pytest.raises(DataError, match="expected \\(steps, 4\\)"):
        load_jsb16(tmp_path / "shape.json")
    (tmp_path / "half.json").write_text(json.dumps({"train": [[[60, 59.5, 55, 48]]], "valid": [],
                                                    "test": []}))
    with pytest.raises(DataError, match="not whole numbers"):
        load_jsb16(tmp_path / "half.json")
    from engine.training.datasets import CropSampler

    with pytest.raises(DataError, match="no training pieces"):
        CropSampler([], crop=16)


def test_pieces_out_of_model_range_are_dropped():
    good = np.full((4, 8), 60, dtype=np.int16)
    low = good.copy()
    low[3, 2] = MODEL_LOW - 1
    assert len(pieces_to_classes([good, low])) == 1


def test_allowed_shifts_and_transpose():
    classes = to_classes(np.array([[MODEL_HIGH, -1], [70, 70], [60, 60], [MODEL_LOW + 2, 50]]))
    assert allowed_shifts(classes, 6) == (-2, 0)
    shifted = transpose_classes(classes, -2)
    assert shifted[0, 1] == SILENCE_CLASS and shifted[0, 0] == classes[0, 0] - 2
    silent = np.full((4, 3), SILENCE_CLASS)
    assert allowed_shifts(silent, 6) == (0, 0)


def test_crop_sampler_crops_stay_in_range_and_are_seeded():
    rng = np.random.default_rng(0)
    pieces = [to_classes(rng.integers(MODEL_LOW, MODEL_HIGH + 1, size=(4, n))) for n in (5, 9, 20)]
    sampler = CropSampler(pieces, crop=8, max_shift=6)
    assert len(sampler.pieces) == 2 and len(sampler) == (9 - 8 + 1) + (20 - 8 + 1)
    a = sampler.sample(64, torch.Generator().manual_seed(3))
    b = sampler.sample(64, torch.Generator().manual_seed(3))
    assert a.shape == (64, 4, 8) and np.array_equal(a, b)
    assert a.min() >= 0 and a.max() <= MODEL_HIGH - MODEL_LOW
    with pytest.raises(DataError, match="shorter crop"):
        CropSampler(pieces, crop=21)


def test_crop_sampler_transposes_both_ways():
    piece = to_classes(np.tile(np.array([[72], [65], [60], [48]]), (1, 4)))
    sampler = CropSampler([piece], crop=4, max_shift=3)
    crops = sampler.sample(200, torch.Generator().manual_seed(0))
    shifts = set((crops[:, 0, 0] - piece[0, 0]).tolist())
    assert shifts == {-3, -2, -1, 0, 1, 2, 3}
    # Every voice moves by the same interval.
    assert (crops - crops[:, :1, :1] == piece - piece[0, 0]).all()


def test_music21_split_is_fixed():
    pieces = [np.full((4, 2), i, dtype=np.int16) for i in range(20)]
    splits = split_music21(pieces)
    assert [int(p[0, 0]) for p in splits["valid"]] == [8, 18]
    assert [int(p[0, 0]) for p in splits["test"]] == [9, 19]
    assert len(splits["train"]) == 16


def test_piece_cache_round_trip_is_exact(tmp_path):
    pieces = [np.arange(8, dtype=np.int16).reshape(4, 2), np.full((4, 5), -1, dtype=np.int16)]
    path = tmp_path / "cache" / "chorales.npz"
    save_pieces(path, pieces)
    back = load_pieces(path)
    assert len(back) == 2 and all(np.array_equal(a, b) for a, b in zip(back, pieces, strict=True))
    assert back[0].dtype == np.int16
    assert [p.name for p in path.parent.iterdir()] == ["chorales.npz"]  # no temporary, no ".npz.npz"


def test_piece_cache_that_cannot_be_written_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "chorales.npz"
    save_pieces(path, [np.zeros((4, 2), dtype=np.int16)])

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(DataError, match=r"^cannot write music21 cache .*: the disk is full$"):
        save_pieces(path, [np.ones((4, 3), dtype=np.int16)])
    assert [p.shape for p in load_pieces(path)] == [(4, 2)]
    assert [p.name for p in tmp_path.iterdir()] == ["chorales.npz"]


def test_music21_chorale_parses_into_four_voices():
    pytest.importorskip("music21")
    from engine.training.datasets import parse_music21_chorales

    (piece,) = parse_music21_chorales(limit=1)
    assert piece.shape[0] == 4 and piece.shape[1] >= 64 and piece.dtype == np.int16
    sounding = piece[piece >= 0]
    assert (piece >= 0).mean() > 0.9 and 36 <= sounding.min() and sounding.max() <= 84
    # Voices are ordered top to bottom most of the time.
    assert (piece[0] >= piece[3]).mean() > 0.95
