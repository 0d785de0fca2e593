"""Hearing the composer from afar: a real PulseAudio server plays the part of the user's laptop
(null sink, native protocol on a loopback port), reached through a real `ssh -R` tunnel to a
private sshd; the null sink's monitor is recorded and the chord checked by FFT. The tunnel is
killed mid-play and reopened; with nothing on the client, W writes a WAV and shows an scp line."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from engine.audio.tiny_soundfont import TINY_SOUNDFONT
from engine.music.midi import load_midi, save_midi
from engine.music.score import Score
from tests.engine.audio.pulse_server import PulseServer, assert_chord, free_port, wait_for_port
from tests.tui import conftest as tui_conftest
from tests.tui import test_terminal
from tests.tui.conftest import wait_until
from tests.tui.test_terminal import SSH, TMUX, Terminal
from tui.app import CantorApp
from tui.settings import Settings

REPO = Path(__file__).resolve().parents[1]
tiny_checkpoint = tui_conftest.tiny_checkpoint  # fixtures shared with the composer's tests
sshd = test_terminal.sshd
CHORD = (72, 67, 64, 48)
ABSENT = (61, 63, 66, 70)


def chord_score(bars: int = 4) -> Score:
    """One C major chord held for `bars` bars at 60 bpm (4 s a bar)."""
    steps = 16 * bars
    return Score(np.array([[p] * steps for p in CHORD], dtype=np.int16), tempo_bpm=60,
                 title="chord")


@pytest.fixture
def pulse(tmp_path):
    server = PulseServer(tmp_path / "laptop")
    yield server
    server.stop()


def composer_over_ssh(monkeypatch) -> CantorApp:
    """The composer on the chord score, as if run over SSH, with the tiny SoundFont."""
    monkeypatch.setenv("SSH_CONNECTION", "127.0.0.1 50000 127.0.0.1 22")
    monkeypatch.setenv("CANTOR_SOUNDFONT", str(TINY_SOUNDFONT))
    return CantorApp(score=chord_score(), load_model=False, autosave=False, ascii_only=True,
                     settings=Settings())


def status(app) -> str:
    return str(app.editor.query_one("#status").render())


def titles(app) -> list[str]:
    return [n.title or "" for n in app._notifications]


async def test_composer_names_the_listener_survives_its_loss_and_plays_again(pulse, monkeypatch):
    monkeypatch.setenv("PULSE_SERVER", pulse.address)
    app = composer_over_ssh(monkeypatch)
    recorder = pulse.recorder()
    try:
        async with app.run_test(size=(140, 30)) as pilot:
            editor = app.editor
            assert await wait_until(pilot, lambda: "via SSH tunnel" in status(app), 20), status(app)
            assert await wait_until(pilot, lambda: editor._player is not None, 20)
            mark = recorder.mark()
            await pilot.press("space")
            assert await wait_until(pilot, lambda: recorder.first_sound(mark) is not None, 10)
            assert "PLAYING" in status(app)
            await pilot.pause(1.0)
            assert_chord(recorder.steady_sound(mark), CHORD, ABSENT)
            assert editor.roll.playhead is not None

            pulse.stop()  # the listener goes away mid-play
            assert await wait_until(pilot, lambda: "Sound stopped" in titles(app), 10)
            assert titles(app).count("Sound stopped") == 1
            assert editor.roll.playhead is None and not editor._playing
            assert "no sound: connection lost" in status(app) and "PLAYING" not in status(app)
            await pilot.press("right", "d")  # editing goes on; nothing is lost
            assert editor.doc.dirty and editor.doc.score.pitches[0, 1] != CHORD[0]
            await pilot.pause(0.5)
            assert titles(app).count("Sound stopped") == 1  # said once

            await pilot.press("space")  # still gone: a clear word, no hang
            assert await wait_until(pilot, lambda: "No sound" in titles(app), 10)
            assert "not answering" in status(app)

            pulse.start()  # back on the same address (the tunnel reopened)
            recorder.close()
            recorder = pulse.recorder()
            mark = recorder.mark()
            await pilot.press("home", "space")
            assert await wait_until(pilot, lambda: recorder.first_sound(mark) is not None, 15)
            assert await wait_until(pilot, lambda: "via SSH tunnel" in status(app), 10)
            assert "PLAYING" in status(app)
            await pilot.press("space")
    finally:
        recorder.close()


async def test_the_sound_server_setting_sends_sound_there(pulse, monkeypatch, tmp_path):
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    app = composer_over_ssh(monkeypatch)
    recorder = pulse.recorder()
    try:
        async with app.run_test(size=(140, 30)) as pilot:
            editor = app.editor
            assert await wait_until(pilot, lambda: editor.sound_route is not None, 20)
            assert "via SSH tunnel" not in status(app)
            await pilot.press("comma")
            app.screen.query_one("#sound_server").value = f"  {pulse.address} "
            await pilot.press("ctrl+s")
            assert await wait_until(pilot, lambda: "via SSH tunnel" in status(app), 20), status(app)
            assert app.settings.sound_server == pulse.address
            assert await wait_until(pilot, lambda: editor._player is not None, 20)
            mark = recorder.mark()
            await pilot.press("space")
            assert await wait_until(pilot, lambda: recorder.first_sound(mark) is not None, 10)
            await pilot.press("space")
        saved = json.loads((tmp_path / "config" / "cantor" / "settings.json").read_text())
        assert saved["sound_server"] == pulse.address  # kept for the next session
    finally:
        recorder.close()


async def test_w_writes_the_variants_wav_into_a_folder_and_shows_scp(tmp_path, tiny_checkpoint,
                                                                      monkeypatch):
    monkeypatch.setenv("SSH_CONNECTION", "10.1.2.3 50000 10.9.8.7 2222")
    monkeypatch.setenv("USER", "ada")
    score = chord_score(2)
    pitches = score.pitches.copy()
    pitches[1:] = -1  # a bare melody: r harmonizes it
    app = CantorApp(score=score.replace(pitches=pitches), checkpoint=tiny_checkpoint,
                    autosave=False, ascii_only=True, settings=Settings(variants=2, repair=0))
    folder = tmp_path / "for home"
    async with app.run_test(size=(140, 30)) as pilot:
        editor = app.editor
        await pilot.press("r")
        assert await wait_until(pilot, lambda: editor.variants_showing, 60)
        await pilot.press("down")  # the second variant
        await pilot.press("W")
        assert await wait_until(pilot, lambda: app.screen.__class__.__name__ == "PathPrompt", 5)
        from textual.widgets import Input

        app.screen.query_one(Input).value = str(folder)
        await pilot.press("enter")
        target = folder / "untitled-harmonize-variant2.wav"
        assert await wait_until(pilot, lambda: any("Wrote" in t for t in titles(app)), 30)
        expected = f"scp -P 2222 'ada@10.9.8.7:{target}' ."
        assert any(expected in n.message for n in app._notifications), [
            n.message for n in app._notifications
        ]
        assert app.clipboard == expected
        assert editor.variants_showing  # still auditioning
    with wave.open(str(target)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)
        assert wav.getframerate() == 44100 and len(frames) > 44100 * 8  # two bars at 60 bpm
    variant = app.editor._variants[1].score if app.editor._variants else None
    assert variant is None or not np.array_equal(variant.pitches[1:], pitches[1:])
    assert np.abs(frames).max() > 1000


# --- the whole path: cantor over SSH, sound back through `ssh -R` ----------------------------


def _ssh_base(port: int, key: Path) -> list[str]:
    return [SSH, "-p", str(port), "-i", str(key), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR"]


def _user() -> str:
    return os.environ.get("USER") or subprocess.run(
        ["id", "-un"], capture_output=True, text=True, check=False).stdout.strip()


def _open_tunnel(port: int, key: Path, remote: int, local: int) -> subprocess.Popen:
    """`ssh -N -R remote:localhost:local`: the laptop's sound server, on the server's port."""
    tunnel = subprocess.Popen(
        [*_ssh_base(port, key), "-N", "-o", "ExitOnForwardFailure=yes",
         "-R", f"{remote}:127.0.0.1:{local}", f"{_user()}@127.0.0.1"],
        stderr=subprocess.PIPE,
    )
    if not wait_for_port(remote, 20, tunnel):
        tunnel.kill()
        pytest.fail(f"the tunnel did not open: {tunnel.stderr.read().decode()[-300:]}")
    return tunnel


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_sound_through_an_ssh_tunnel_that_breaks_and_comes_back(tmp_path, pulse, sshd):
    port, key = sshd
    song = tmp_path / "chord.mid"
    save_midi(chord_score(), song)
    remote = free_port()
    tunnel = _open_tunnel(port, key, remote, pulse.port)
    python = shlex.quote(sys.executable)
    command = (
        f"cd {shlex.quote(str(REPO))} && env PULSE_SERVER=tcp:localhost:{remote}"
        f" CANTOR_SOUNDFONT={shlex.quote(str(TINY_SOUNDFONT))}"
        f" XDG_STATE_HOME={shlex.quote(str(tmp_path / 'state'))}"
        f" XDG_CONFIG_HOME={shlex.quote(str(tmp_path / 'config'))}"
        f" {python} -m cli {shlex.quote(str(song))}"
    )
    ssh = " ".join(shlex.quote(a) for a in _ssh_base(port, key))
    ssh += f" -tt {_user()}@127.0.0.1 {shlex.quote(command)}"
    term = Terminal(tmp_path, f"bash -c {shlex.quote(ssh + '; sleep 30')}", size=(140, 30))
    recorder = pulse.recorder()
    try:
        term.wait_for("via SSH tunnel", 90)
        time.sleep(1.0)  # the player is made ahead of time, right after the route is known
        latencies = []
        for _ in range(3):
            mark = recorder.mark()
            pressed = time.perf_counter()
            term.keys("Space")
            heard = recorder.wait_for_sound(mark, 15)
            assert heard is not None, term.screen()
            latencies.append(1000 * (heard - pressed))
            term.wait_for("PLAYING", 10)
            time.sleep(1.0)
            term.keys("Space")  # stop
            time.sleep(0.5)
        assert_chord(recorder.steady_sound(mark), CHORD, ABSENT)
        print(f"space -> first sound through the SSH tunnel, ms: {[round(x) for x in latencies]}")

        mark = recorder.mark()
        term.keys("Space")
        assert recorder.wait_for_sound(mark, 15) is not None
        term.wait_for("PLAYING", 10)
        tunnel.terminate()  # the tunnel closes mid-play
        tunnel.wait(10)
        term.wait_for("Sound stopped", 15)
        term.wait_for("| no sound: conn", 5)  # (the toast may cover the rest of the line)
        assert "PLAYING" not in term.screen()
        term.keys("Right", "d", "C-s")  # the app still edits and saves
        term.wait_for("Saved", 10)
        assert any(p % 12 == 2 for _, _, p in load_midi(song).notes(0))  # the D typed

        tunnel = _open_tunnel(port, key, remote, pulse.port)  # the tunnel is back
        mark = recorder.mark()
        term.keys("Home", "Space")
        assert recorder.wait_for_sound(mark, 15) is not None, term.screen()
        term.wait_for("PLAYING", 10)
        term.wait_for("bpm | sound: ", 10)  # named again (the toast may cover the rest)
        term.keys("Space", "q")
    finally:
        recorder.close()
        term.close()
        tunnel.terminate()
        tunnel.wait(10)
    assert np.median(latencies) <= 150  # the goal: space to first sound over a loopback tunnel


# --- the command line -----------------------------------------------------------------------


def cantor(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: PLW1510 (the exit code is checked)
        [sys.executable, "-m", "cli", *args], cwd=REPO, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, "CANTOR_SOUNDFONT": str(TINY_SOUNDFONT), **(env or {})},
    )


def test_cli_play_wav_to_writes_the_wav_and_one_scp_line(tmp_path):
    song = tmp_path / "chord.mid"
    save_midi(chord_score(1), song)
    folder = tmp_path / "out" / "new"
    result = cantor("play", str(song), "--wav-to", str(folder),
                    env={"SSH_CONNECTION": "10.1.2.3 5000 10.9.8.7 22", "USER": "ada"})
    assert result.returncode == 0, result.stderr
    wav = folder / "chord.wav"
    assert result.stdout.splitlines() == [f"wrote {wav}", f"fetch it with: scp ada@10.9.8.7:{wav} ."]
    with wave.open(str(wav)) as handle:
        assert handle.getnframes() > 44100 * 4  # a bar at 60 bpm


def test_cli_play_through_a_forwarded_server(tmp_path, pulse):
    song = tmp_path / "chord.mid"
    save_midi(chord_score(1), song)
    recorder = pulse.recorder()
    try:
        mark = recorder.mark()
        result = cantor("play", str(song), "--server", pulse.address)
    finally:
        recorder.close()
    assert result.returncode == 0, result.stderr
    assert f"to {pulse.address}" in result.stdout
    assert_chord(recorder.steady_sound(mark, length=2.0), CHORD, ABSENT)


def test_cli_play_with_the_server_gone_is_one_line(tmp_path):
    song = tmp_path / "chord.mid"
    save_midi(chord_score(1), song)
    result = cantor("play", str(song), env={"PULSE_SERVER": f"tcp:127.0.0.1:{free_port()}"})
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cantor: error: the sound server")
    assert "cannot be reached" in lines[0] and "--wav-to DIR" in lines[0]
