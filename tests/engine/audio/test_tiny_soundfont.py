"""The project's tiny SoundFont: deterministic bytes, a valid SF2, four distinct voice timbres."""

from __future__ import annotations

import errno
import os
import stat
import struct

import numpy as np
import pytest

from engine.audio.tiny_soundfont import (
    TINY_SOUNDFONT,
    TONES,
    build_tiny_soundfont,
    write_tiny_soundfont,
)
from engine.music.score import Score


def _chunks(data: bytes) -> dict[bytes, bytes]:
    """Sub-chunks of a RIFF/LIST body by tag (LIST chunks by their list type)."""
    found, at = {}, 0
    while at < len(data):
        tag, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        body = data[at + 8 : at + 8 + size]
        assert len(body) == size, f"chunk {tag!r} runs past its parent"
        found[body[:4] if tag == b"LIST" else tag] = body[4:] if tag == b"LIST" else body
        at += 8 + size + size % 2
    return found


def test_committed_file_is_what_the_code_builds():
    assert TINY_SOUNDFONT.read_bytes() == build_tiny_soundfont()


def test_building_twice_gives_identical_bytes(tmp_path):
    path = write_tiny_soundfont(tmp_path / "again.sf2")
    assert path.read_bytes() == build_tiny_soundfont()
    assert [p.name for p in tmp_path.iterdir()] == ["again.sf2"]  # no temp file left behind


def test_a_failed_write_keeps_the_old_file_and_raises_os_error(tmp_path, monkeypatch):
    path = tmp_path / "tiny.sf2"
    path.write_bytes(b"old")

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError) as caught:  # engine/audio/soundfont.py turns an OSError into advice
        write_tiny_soundfont(path)
    assert caught.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.sf2"]
    monkeypatch.undo()
    write_tiny_soundfont(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # readable by others, like the committed file


def test_it_is_a_small_well_formed_sf2():
    data = build_tiny_soundfont()
    assert len(data) < 8192
    assert data[:4] == b"RIFF" and data[8:12] == b"sfbk"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    top = _chunks(data[12:])
    assert set(top) == {b"INFO", b"sdta", b"pdta"}
    pdta = _chunks(top[b"pdta"])
    sizes = {b"phdr": 38, b"pbag": 4, b"pmod": 10, b"pgen": 4, b"inst": 22, b"ibag": 4,
             b"imod": 10, b"igen": 4, b"shdr": 46}
    assert list(pdta) == list(sizes)  # the order the SF2 specification requires
    for tag, record in sizes.items():
        assert len(pdta[tag]) % record == 0, tag
    # four presets, four instruments, four samples, each list closed by its terminal record
    assert len(pdta[b"phdr"]) // 38 == len(pdta[b"inst"]) // 22 == len(pdta[b"shdr"]) // 46 == 5
    assert len(_chunks(top[b"sdta"])[b"smpl"]) % 2 == 0


def test_fluidsynth_loads_four_presets_named_after_the_voices():
    from engine.audio.synth import load_fluidsynth, quiet_stderr

    fluidsynth = load_fluidsynth()
    with quiet_stderr():
        synth = fluidsynth.Synth()
    try:
        sfid = synth.sfload(str(TINY_SOUNDFONT))
        assert sfid >= 0
        names = [synth.sfpreset_name(sfid, 0, p) for p in range(5)]
        assert names == [t.name for t in TONES] + [None]
    finally:
        synth.delete()


def _partials(samples: np.ndarray, f0: float, count: int = 4) -> np.ndarray:
    """Magnitudes of the first `count` harmonics relative to the fundamental."""
    mono = samples.mean(axis=1) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(mono))
    freqs = np.fft.rfftfreq(len(mono), 1 / 44100)
    peaks = [spectrum[np.abs(freqs - f0 * h) < 5].max() for h in range(1, count + 1)]
    return np.array(peaks) / peaks[0]


def test_each_voice_has_its_own_timbre():
    from engine.audio.playback import render

    pitch = 57  # A3 = 220 Hz, in every voice's reach
    score = Score(np.full((4, 8), pitch, dtype=np.int16), tempo_bpm=60)
    profiles = []
    for voice in range(4):
        audio = render(score, soundfont=TINY_SOUNDFONT, solo=(voice,))
        profile = _partials(audio[11025:66150], 220.0)
        assert profile.max() == pytest.approx(1.0)  # the fundamental is the strongest partial
        profiles.append(profile)
    for a in range(4):
        for b in range(a + 1, 4):
            assert np.abs(profiles[a] - profiles[b]).max() > 0.1, (a, b)
