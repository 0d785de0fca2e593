"""`cantor render` and `cantor play` end to end, in subprocesses, with real MIDI files and audio."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import wave
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "soundfonts" / "cantor-tiny.sf2")
NULL_DEVICE = "pcm.!default { type null }\n"


def chorale(path: Path, bars: int = 2, tempo_bpm: int = 120) -> Path:
    """An SATB MIDI file of `bars` 4/4 bars of quarter-note chords, one named track per voice."""
    import mido

    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    conductor = mido.MidiTrack([
        mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0),
    ])
    midi.tracks.append(conductor)
    chords = [(72, 67, 64, 48), (74, 67, 59, 55), (76, 67, 60, 48), (74, 65, 59, 43)]
    for voice, name in enumerate(("Soprano", "Alto", "Tenor", "Bass")):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        for beat in range(bars * 4):
            pitch = chords[beat % 4][voice]
            track.append(mido.Message("note_on", channel=voice, note=pitch, velocity=80, time=0))
            track.append(mido.Message("note_off", channel=voice, note=pitch, time=480))
        midi.tracks.append(track)
    midi.save(str(path))
    return path


def cantor(*args, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: PLW1510 (the exit code is checked)
        [sys.executable, "-m", "cli", *map(str, args)],
        cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout,
    )


def alsa_home(tmp_path: Path, config: str) -> dict:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / ".asoundrc").write_text(config)
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 44100)
        return wav.getnframes() / wav.getframerate()


def test_render_writes_a_wav(tmp_path):
    song, out = chorale(tmp_path / "song.mid"), tmp_path / "song.wav"
    result = cantor("render", song, "-o", out, "--soundfont", TINY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {out}") and "cantor-tiny.sf2" in result.stdout
    assert wav_seconds(out) == pytest.approx(4.0 + 0.6, abs=0.01)  # 2 bars at 120 BPM + tail
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.mid", "song.wav"]


def test_render_options_change_the_sound(tmp_path):
    song = chorale(tmp_path / "song.mid")
    assert cantor("render", song, "-o", tmp_path / "a.wav", "--soundfont", TINY).returncode == 0
    slow = cantor("render", song, "-o", tmp_path / "slow.wav", "--tempo", 60, "--soundfont", TINY)
    assert slow.returncode == 0, slow.stderr
    assert wav_seconds(tmp_path / "slow.wav") == pytest.approx(8.0 + 0.6, abs=0.01)
    bar = cantor("render", song, "-o", tmp_path / "bar.wav", "--bars", 2, "--soundfont", TINY)
    assert bar.returncode == 0, bar.stderr
    assert wav_seconds(tmp_path / "bar.wav") == pytest.approx(2.0 + 0.6, abs=0.01)
    solo = cantor("render", song, "-o", tmp_path / "solo.wav", "--solo", "B", "--soundfont", TINY)
    assert solo.returncode == 0, solo.stderr
    assert (tmp_path / "solo.wav").read_bytes() != (tmp_path / "a.wav").read_bytes()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--soundfont", "missing.sf2"], "missing.sf2 does not exist"),
        (["--bars", "5-6"], "bars must be in range"),
        (["--solo", "X"], "unknown voice"),
        (["--mute", "S,A,T,B"], "leave no voice to hear"),
        (["--solo", "S", "--mute", "S"], "leave no voice to hear"),
    ],
)
def test_render_errors_are_one_line_and_write_nothing(tmp_path, extra, message):
    song, out = chorale(tmp_path / "song.mid"), tmp_path / "out.wav"
    result = cantor("render", song, "-o", out, *extra)
    assert result.returncode == 1
    assert result.stderr.startswith("cantor: error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["song.mid"]


def test_render_usage_errors(tmp_path):
    song = chorale(tmp_path / "song.mid")
    result = cantor("render", song, "-o", tmp_path / "x.wav", "--programs", "200")
    assert result.returncode == 2 and "programs must be one or four GM numbers" in result.stderr
    missing = cantor("render", tmp_path / "none.mid", "-o", tmp_path / "x.wav")
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1


def test_play_without_a_device_is_one_clear_line(tmp_path):
    env = alsa_home(tmp_path, "")
    probe = subprocess.run(  # noqa: PLW1510 (the exit code is checked)
        [sys.executable, "-c", "import sounddevice as sd; print(len(sd.query_devices()))"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )
    if probe.stdout.strip() not in ("", "0"):
        pytest.skip("this machine has a sound card")
    result = cantor("play", chorale(tmp_path / "song.mid"), env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("cantor: error: no audio output device")
    assert "cantor render" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_stdout_is_cantors_own_even_under_ci(tmp_path):
    """pyfluidsynth prints where it found the library when $CI is set; cantor keeps it out."""
    song, out = chorale(tmp_path / "song.mid"), tmp_path / "song.wav"
    for ci in ("true", "1"):
        result = cantor("render", song, "-o", out, "--soundfont", TINY, env={"CI": ci})
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0].startswith(f"wrote {out}"), result.stdout
        assert "was found" not in result.stdout + result.stderr


def test_play_through_a_null_device(tmp_path):
    song = chorale(tmp_path / "song.mid")
    result = cantor("play", song, "--from-bar", 2, "--soundfont", TINY,
                    env=alsa_home(tmp_path, NULL_DEVICE))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"playing {song} with cantor-tiny.sf2")
    assert result.stderr == ""
    bad = cantor("play", song, "--from-bar", 9, env=alsa_home(tmp_path, NULL_DEVICE))
    assert bad.returncode == 1 and "bars must be in range" in bad.stderr


def test_ctrl_c_stops_playback_cleanly(tmp_path):
    song = chorale(tmp_path / "song.mid")
    # As from a terminal: a harness that runs the suite in the background (`make test &` in a
    # script) hands its children SIGINT ignored, and Python then installs no Ctrl-C handler.
    # A launcher sets the default back and execs cantor, which then gets KeyboardInterrupt.
    launcher = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                "os.execv(sys.executable, [sys.executable] + sys.argv[1:])")
    process = subprocess.Popen(
        [sys.executable, "-c", launcher, "-m", "cli", "play", str(song), "--loop",
         "--soundfont", str(TINY)],
        cwd=ROOT, env={**os.environ, **alsa_home(tmp_path, NULL_DEVICE)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    watchdog = threading.Timer(90, process.kill)  # a hang fails the test instead of blocking it
    watchdog.start()
    try:
        first = process.stdout.readline()  # printed once the stream is running
        assert first.startswith("playing"), process.stderr.read()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        watchdog.cancel()
        process.kill()
    assert process.returncode == 0, err
    assert out.strip().startswith("stopped at bar ")
    assert err == ""


SIGNAL_MASKS = """
import os, signal, sys, time
from engine.audio.playback import Player
from engine.music.score import Score
import numpy as np

def threads():
    return {int(t) for t in os.listdir("/proc/self/task")}

def blocked(tid):
    for line in open(f"/proc/self/task/{tid}/status"):
        if line.startswith("SigBlk:"):
            return int(line.split()[1], 16)

before = threads()
pitches = np.repeat(np.array([[72], [67], [60], [48]], dtype=np.int16), 64, axis=1)
player = Player(sys.argv[1])
player.play(Score(pitches), loop=True)
time.sleep(0.3)
new = sorted(threads() - before)
masks = [blocked(t) for t in new]
main_mask = blocked(os.getpid())
player.close()
sigint = 1 << (signal.SIGINT - 1)
print(len(new), all(m & sigint for m in masks), bool(main_mask & sigint))
"""


def test_ctrl_c_never_lands_on_the_audio_thread(tmp_path):
    """Threads that PortAudio starts block SIGINT, so Ctrl-C always reaches the main thread."""
    result = subprocess.run(  # noqa: PLW1510 (the exit code is checked)
        [sys.executable, "-c", SIGNAL_MASKS, str(TINY)], cwd=ROOT,
        env={**os.environ, **alsa_home(tmp_path, NULL_DEVICE)},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    count, audio_blocks, main_blocks = result.stdout.split()
    assert int(count) >= 1  # the stream's own thread at least
    assert audio_blocks == "True" and main_blocks == "False"
