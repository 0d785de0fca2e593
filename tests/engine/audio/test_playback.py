"""Rendering and playback with real FluidSynth, real SoundFonts and a real PortAudio stream."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

from engine.audio import soundfont as soundfonts
from engine.audio.playback import (
    AudioUnavailable,
    SoundFontError,
    WavFileError,
    find_soundfont,
    render,
    render_wav,
    write_wav,
)
from engine.audio.synth import NOTE_ON, TAIL_SECONDS, Schedule
from engine.audio.tiny_soundfont import TINY_SOUNDFONT
from engine.errors import ScoreError
from engine.music.score import Score

ROOT = Path(__file__).resolve().parents[3]
SR = 44100
TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
# Every voice has held notes, a repeated note and a rest; steps 16..23 are silent in all voices.
ROWS = (
    [72] * 4 + [72] * 4 + [76] * 8 + [-1] * 8 + [79] * 8,
    [65] * 8 + [64] * 8 + [-1] * 8 + [67] * 8,
    [57] * 6 + [55] * 2 + [60] * 8 + [-1] * 8 + [52] * 8,
    [41] * 8 + [48] * 8 + [-1] * 8 + [36] * 8,
)
ONSETS = np.array([[c == 0 or c == 4 for c in range(32)]] + [[False] * 32] * 3)


def _score(**meta) -> Score:
    meta.setdefault("tempo_bpm", 60)  # a step is 0.25 s: long windows for the pitch analysis
    return Score(np.array(ROWS, dtype=np.int16), onsets=ONSETS, **meta)


def _hz(pitch: int) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


def fundamental(samples: np.ndarray) -> float:
    """Lowest strong spectral peak (>= 30 % of the largest), refined by parabolic interpolation."""
    mono = samples.mean(axis=1) * np.hanning(len(samples))
    size = 1 << 18  # zero padding: 0.17 Hz bins, so a 65 Hz bass is resolved far below 1 %
    spectrum = np.abs(np.fft.rfft(mono, size))
    inner = spectrum[1:-1]
    peaks = np.flatnonzero(
        (inner >= spectrum[:-2]) & (inner > spectrum[2:]) & (inner >= 0.3 * spectrum.max())
    ) + 1
    peaks = peaks[peaks * SR / size > 25]
    k = int(peaks[0])
    a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / size


def _check_pitches_and_silence(score: Score, soundfont: Path) -> None:
    frames_per_step = score.seconds_per_step * SR
    for voice in range(4):
        audio = render(score, soundfont=soundfont, solo=(voice,))
        for start, length, pitch in score.notes(voice):
            a = int(start * frames_per_step + 0.1 * SR)  # skip the attack
            b = int((start + length) * frames_per_step - 0.05 * SR)
            found = fundamental(audio[a:b])
            assert abs(found / _hz(pitch) - 1) < 0.01, (voice, start, pitch, found)
    full = render(score, soundfont=soundfont)
    rest_from = int(16 * frames_per_step + 0.5 * SR)  # after the release of the notes before
    rest_to = int(24 * frames_per_step)
    assert np.abs(full[rest_from:rest_to]).max() < 1e-3
    assert np.abs(full[: int(16 * frames_per_step)]).max() > 0.05


def test_tiny_soundfont_plays_every_pitch_and_silence():
    _check_pitches_and_silence(_score(), TINY_SOUNDFONT)


@pytest.mark.skipif(not TIMGM.exists(), reason="TimGM6mb is not installed")
def test_timgm6mb_plays_every_pitch_and_silence():
    # The piano: choir and organ presets carry vibrato or strong octaves that blur a pitch test.
    _check_pitches_and_silence(_score(programs=(0, 0, 0, 0)), TIMGM)


def test_render_is_stereo_float_with_a_release_tail():
    score = _score()
    audio = render(score, soundfont=TINY_SOUNDFONT)
    expected = round(32 * score.seconds_per_step * SR) + round(TAIL_SECONDS * SR)
    assert audio.shape == (expected, 2) and audio.dtype == np.float32
    assert np.abs(audio).max() < 1.0
    part = render(score, 8, 12, soundfont=TINY_SOUNDFONT)
    assert part.shape[0] == round(4 * score.seconds_per_step * SR) + round(TAIL_SECONDS * SR)
    # step 8 is in the middle of held notes: cut notes are struck again at the start
    assert np.abs(part[: SR // 10]).max() > 0.05


def test_mute_and_solo_choose_the_voices():
    score = _score()
    solo = render(score, soundfont=TINY_SOUNDFONT, solo=(3,))
    muted = render(score, soundfont=TINY_SOUNDFONT, mute=(0, 1, 2))
    assert np.array_equal(solo, muted)
    assert np.abs(render(score, soundfont=TINY_SOUNDFONT, mute=(0, 1, 2, 3))).max() < 1e-6
    assert not np.array_equal(solo, render(score, soundfont=TINY_SOUNDFONT, solo=(2,)))
    with pytest.raises(ScoreError, match="voice must be in range 0..3"):
        render(score, soundfont=TINY_SOUNDFONT, mute=(4,))


def test_velocity_sets_loudness():
    score = _score()
    soft = np.abs(render(score, soundfont=TINY_SOUNDFONT, velocity=30)).max()
    loud = np.abs(render(score, soundfont=TINY_SOUNDFONT, velocity=120)).max()
    assert loud > 2 * soft
    with pytest.raises(ScoreError, match="velocity"):
        render(score, soundfont=TINY_SOUNDFONT, velocity=0)


def test_repeated_notes_are_struck_again_and_held_notes_are_not():
    schedule = Schedule(_score(), 0, 32, mute=(), solo=(), velocity=90, sample_rate=SR)
    soprano_on = [e[0] for e in schedule.events if e[1] == NOTE_ON and e[2] == 0]
    frames_per_step = 0.25 * SR
    assert soprano_on == [0, int(4 * frames_per_step), int(8 * frames_per_step),
                          int(24 * frames_per_step)]


def test_bad_ranges_are_refused():
    with pytest.raises(ScoreError, match="playback range"):
        render(_score(), 10, 10, soundfont=TINY_SOUNDFONT)
    with pytest.raises(ScoreError, match="playback range"):
        render(_score(), 0, 33, soundfont=TINY_SOUNDFONT)


def test_render_wav_writes_a_16bit_stereo_file(tmp_path):
    score = _score()
    path = render_wav(score, tmp_path / "out.wav", soundfont=TINY_SOUNDFONT)
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, SR)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    audio = render(score, soundfont=TINY_SOUNDFONT)
    assert pcm.shape == audio.shape
    assert np.abs(pcm / 32767.0 - audio).max() < 1e-4
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_render_wav_never_leaves_a_half_written_file(tmp_path, capfd):
    target = tmp_path / "keep.wav"
    target.write_bytes(b"old")
    broken = tmp_path / "broken.sf2"
    broken.write_bytes(b"RIFF\x10\x00\x00\x00sfbkLIST" + b"\x00" * 8)
    with pytest.raises(SoundFontError, match="could not be loaded"):
        render_wav(_score(), target, soundfont=broken)
    assert target.read_bytes() == b"old"
    assert capfd.readouterr().err == ""  # GLib's complaint about the file stayed off fd 2
    with pytest.raises(WavFileError, match="does not exist"):
        render_wav(_score(), tmp_path / "nowhere" / "x.wav", soundfont=TINY_SOUNDFONT)
    with pytest.raises(WavFileError, match="folder"):
        render_wav(_score(), tmp_path, soundfont=TINY_SOUNDFONT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.sf2", "keep.wav"]


@pytest.mark.parametrize(("step", "code", "reason"), [
    ("fsync", errno.ENOSPC, "the disk is full"),
    ("replace", errno.EACCES, "permission denied"),  # e.g. a read-only target (root ignores chmod)
])
def test_write_wav_failure_keeps_the_old_file(tmp_path, monkeypatch, step, code, reason):
    target = tmp_path / "keep.wav"
    target.write_bytes(b"old")

    def fail(*args):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, step, fail)
    with pytest.raises(WavFileError, match=rf"^cannot write WAV file .*keep\.wav: {reason}$"):
        write_wav(np.zeros((64, 2), np.float32), target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]
    monkeypatch.undo()
    write_wav(np.zeros((64, 2), np.float32), target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # readable by others, like any export


# --- SoundFont resolution -------------------------------------------------------------------


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A private soundfonts/ folder and system list, so the search order can be seen."""
    project, system = tmp_path / "project", tmp_path / "system"
    project.mkdir()
    system.mkdir()
    monkeypatch.setattr(soundfonts, "PROJECT_SOUNDFONTS", project)
    monkeypatch.setattr(soundfonts, "SYSTEM_SOUNDFONTS", (system / "default-GM.sf2",))
    monkeypatch.delenv("CANTOR_SOUNDFONT", raising=False)
    return project, system


def _sf2(path: Path) -> Path:
    path.write_bytes(TINY_SOUNDFONT.read_bytes())
    return path


def test_search_order(places, tmp_path, monkeypatch):
    project, system = places
    assert find_soundfont() == TINY_SOUNDFONT
    system_font = _sf2(system / "default-GM.sf2")
    assert find_soundfont() == system_font
    (project / "notes.txt").write_text("not a font")
    (project / "bad.sf2").write_text("not a font either")
    mine = _sf2(project / "mine.sf2")
    assert find_soundfont() == mine
    from_env = _sf2(tmp_path / "env.sf2")
    monkeypatch.setenv("CANTOR_SOUNDFONT", str(from_env))
    assert find_soundfont() == from_env
    explicit = _sf2(tmp_path / "explicit.sf3")
    assert find_soundfont(explicit) == explicit


def test_tiny_soundfont_is_rebuilt_when_the_install_lacks_it(places, tmp_path, monkeypatch):
    monkeypatch.setattr(soundfonts, "TINY_SOUNDFONT", tmp_path / "gone" / "cantor-tiny.sf2")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    found = find_soundfont()
    assert found == tmp_path / "cache" / "cantor" / "cantor-tiny.sf2"
    assert found.read_bytes() == TINY_SOUNDFONT.read_bytes()


def test_missing_or_unusable_soundfonts_are_named(places, tmp_path, monkeypatch):
    with pytest.raises(SoundFontError, match=r"nope\.sf2 does not exist"):
        find_soundfont(tmp_path / "nope.sf2")
    with pytest.raises(SoundFontError, match="is not a file"):
        find_soundfont(tmp_path)
    text = tmp_path / "text.sf2"
    text.write_text("hello")
    with pytest.raises(SoundFontError, match="is not a SoundFont"):
        find_soundfont(text)
    monkeypatch.setenv("CANTOR_SOUNDFONT", str(tmp_path / "gone.sf2"))
    with pytest.raises(AudioUnavailable, match=r"gone\.sf2 does not exist \(set in \$CANTOR_SOUNDFONT"):
        find_soundfont()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_unreadable_soundfont(tmp_path):
    font = _sf2(tmp_path / "locked.sf2")
    font.chmod(0)
    with pytest.raises(SoundFontError, match="cannot be read"):
        find_soundfont(font)


# --- missing native libraries, in a fresh interpreter ----------------------------------------


def _python(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: PLW1510 (the exit code is checked)
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=60,
    )


HIDE_LIBRARY = """
    import ctypes.util
    _find = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None if {hidden!r} in name else _find(name)
"""


def test_missing_fluidsynth_library_says_what_to_install():
    result = _python(HIDE_LIBRARY.format(hidden="fluidsynth") + """
    import numpy as np
    from engine.audio.playback import render, AudioUnavailable
    from engine.music.score import Score
    try:
        render(Score(np.full((4, 4), 60)))
    except AudioUnavailable as exc:
        print(exc)
    """)
    assert result.returncode == 0, result.stderr
    assert "sudo apt-get install libfluidsynth3" in result.stdout


def test_missing_pyfluidsynth_says_what_to_install():
    result = _python("""
    import sys
    sys.modules["fluidsynth"] = None  # as if the package were not installed
    from engine.audio.playback import Player, AudioUnavailable
    try:
        Player()
    except AudioUnavailable as exc:
        print(exc)
    """)
    assert "pip install pyfluidsynth" in result.stdout, result.stderr


def test_missing_portaudio_says_what_to_install():
    result = _python(HIDE_LIBRARY.format(hidden="portaudio") + """
    from engine.audio.playback import Player, AudioUnavailable
    try:
        Player()
    except AudioUnavailable as exc:
        print(exc)
    """)
    assert "sudo apt-get install libportaudio2" in result.stdout, result.stderr
    assert "cantor render" in result.stdout


def test_detached_stderr_keeps_native_chatter_off_the_terminal(tmp_path):
    broken = tmp_path / "broken.sf2"
    broken.write_bytes(b"RIFF\x10\x00\x00\x00sfbkLIST" + b"\x00" * 8)  # GLib complains on fd 2
    result = _python(f"""
    import os, sys
    import numpy as np
    from engine.audio.playback import SoundFontError, detach_native_stderr, render
    from engine.music.score import Score
    detach_native_stderr()
    os.write(2, b"native chatter\\n")
    try:
        render(Score(np.full((4, 4), 60)), soundfont={str(broken)!r})
    except SoundFontError:
        print("python still reaches the terminal", file=sys.stderr)
    """)
    assert result.stderr == "python still reaches the terminal\n"


def test_detaching_inside_a_quiet_block_stays_detached():
    """quiet_stderr's exit must not give fd 2 back to the terminal once detached."""
    result = _python("""
    import os, sys
    from engine.audio.synth import detach_native_stderr, quiet_stderr
    with quiet_stderr():
        detach_native_stderr()
    os.write(2, b"native chatter\\n")
    print("python still reaches the terminal", file=sys.stderr)
    """)
    assert result.stderr == "python still reaches the terminal\n"


# --- the live player against a real PortAudio stream ----------------------------------------


def alsa_home(tmp_path: Path, config: str) -> dict:
    """Environment whose HOME holds an .asoundrc (PortAudio's ALSA reads it when it starts)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / ".asoundrc").write_text(config)
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


NULL_DEVICE = "pcm.!default { type null }\n"

PLAYER_SCRIPT = """
    import json, time
    import numpy as np
    from engine.audio.playback import Player
    from engine.music.score import Score
    rows = np.array([[72] * 8 + [74] * 8, [64] * 16, [57] * 16, [48] * 8 + [43] * 8])
    score = Score(rows)
    report = {}
    with Player("soundfonts/cantor-tiny.sf2") as player:
        player.play(score, 4, 16, loop=True)
        seen, deadline = [], time.perf_counter() + 5
        while len(set(seen)) < 4 and time.perf_counter() < deadline:
            seen.append(player.position())
            time.sleep(0.002)
        report["seen"] = sorted(set(seen))
        report["playing"] = player.is_playing
        player.stop()
        report["after_stop"] = [player.is_playing, player.position()]
        player.play(score, 0, 4)
        report["ended"] = player.wait(10)
        report["after_end"] = [player.is_playing, player.position()]
    print(json.dumps(report))
"""


def test_player_streams_into_a_null_device(tmp_path):
    result = _python(PLAYER_SCRIPT, alsa_home(tmp_path, NULL_DEVICE))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(report["seen"]) >= 4  # the playhead moves
    assert all(4 <= s < 16 for s in report["seen"])
    assert report["playing"] is True
    assert report["after_stop"] == [False, None]
    assert report["ended"] is True and report["after_end"] == [False, None]
    assert result.stderr == ""  # no ALSA or FluidSynth chatter


def test_player_without_a_device_suggests_render(tmp_path):
    env = alsa_home(tmp_path, "")
    probe = _python("import sounddevice as sd; print(len(sd.query_devices()))", env)
    if probe.stdout.strip() not in ("", "0"):
        pytest.skip("this machine has a sound card")
    result = _python("""
    from engine.audio.playback import Player, AudioUnavailable
    try:
        Player()
    except AudioUnavailable as exc:
        print(exc)
    """, env)
    assert "no audio output device" in result.stdout and "cantor render" in result.stdout
    assert result.stderr == ""
