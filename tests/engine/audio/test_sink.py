"""Where sound goes, and playback through a real PulseAudio server (null sink, native protocol over
TCP on a loopback port): the pitches arrive, the first sound is quick, the playhead matches what
is heard, and a server that goes away mid-play is reported and reconnected to."""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from engine.audio.playback import Player
from engine.audio.pulse import server_info
from engine.audio.sink import (
    configured_server,
    describe_pulse,
    detect_route,
    fetch_command,
    is_loopback,
)
from engine.audio.tiny_soundfont import TINY_SOUNDFONT
from engine.errors import AudioUnavailable
from engine.music.score import Score
from tests.engine.audio.pulse_server import PipeWireServer, PulseServer, assert_chord, free_port

CHORD = (72, 67, 64, 48)  # C major: soprano C5, alto G4, tenor E4, bass C3
ABSENT = (61, 63, 66, 70)  # neither chord tones nor their low harmonics


def chord_score(steps: int = 64, tempo: float = 60) -> Score:
    return Score(np.array([[p] * steps for p in CHORD], dtype=np.int16), tempo_bpm=tempo)


# --- pure rules -----------------------------------------------------------------------------


def test_the_setting_wins_over_the_environment():
    env = {"PULSE_SERVER": "tcp:localhost:24713"}
    assert configured_server(None, env) == "tcp:localhost:24713"
    assert configured_server(" tcp:laptop:4713 ", env) == "tcp:laptop:4713"
    assert configured_server("", {}) is None


@pytest.mark.parametrize(
    ("server", "loopback"),
    [
        ("tcp:localhost:24713", True),
        ("tcp:127.0.0.1:24713", True),
        ("tcp6:[::1]:24713", True),
        ("{0123abcd}unix:/run/user/1000/pulse/native", True),
        ("localhost", True),
        ("tcp:laptop.lan:4713", False),
        ("192.168.1.20", False),
    ],
)
def test_loopback_servers_are_where_an_ssh_tunnel_ends(server, loopback):
    assert is_loopback(server) is loopback


def test_the_status_names_the_listener_and_the_tunnel():
    ssh = {"SSH_CONNECTION": "10.0.0.2 50000 10.0.0.5 22"}
    assert describe_pulse("tcp:localhost:24713", "laptop", ssh) == "sound: laptop via SSH tunnel"
    assert describe_pulse("tcp:laptop.lan:4713", "laptop", {}) == "sound: laptop (tcp:laptop.lan:4713)"


def test_fetch_command_names_the_address_the_user_reached(tmp_path):
    path = tmp_path / "a b.wav"
    env = {"USER": "ada", "SSH_CONNECTION": "10.0.0.2 50000 10.0.0.5 2222"}
    assert fetch_command(path, env) == f"scp -P 2222 'ada@10.0.0.5:{path}' ."
    env = {"USER": "ada", "SSH_CONNECTION": "::1 50000 ::1 22"}
    assert fetch_command(tmp_path / "x.wav", env) == f"scp 'ada@[::1]:{tmp_path / 'x.wav'}' ."  # brackets quoted


def test_an_unanswered_server_is_no_sound_with_the_reason():
    port = free_port()  # nothing listens there
    route = detect_route(f"tcp:127.0.0.1:{port}", timeout=2)
    assert route.kind == "none" and not route.playable
    assert route.text == f"no sound: tcp:127.0.0.1:{port} not answering"
    assert "Connection refused" in route.detail and "ssh -R" in route.detail
    with pytest.raises(AudioUnavailable, match="cannot be reached"):
        Player(TINY_SOUNDFONT, server=f"tcp:127.0.0.1:{port}")


# --- a real PulseAudio server ---------------------------------------------------------------


@pytest.fixture
def pulse(tmp_path):
    server = PulseServer(tmp_path / "pulse")
    yield server
    server.stop()


def test_route_and_probe_name_the_server(pulse):
    info = server_info(pulse.address)
    assert info["server_name"] == "pulseaudio" and info["host_name"]
    route = detect_route(pulse.address, environ={"SSH_CONNECTION": "10.0.0.2 1 10.0.0.5 22"})
    assert route.kind == "pulse" and route.server == pulse.address
    assert route.text == f"sound: {info['host_name']} via SSH tunnel"


def test_a_chord_arrives_quickly_and_stops_at_once(pulse):
    recorder = pulse.recorder()
    try:
        latencies = []
        with Player(TINY_SOUNDFONT, server=pulse.address) as player:
            assert player.server == pulse.address
            for _ in range(5):
                mark = recorder.mark()
                began = time.perf_counter()
                player.play(chord_score(), 0, 16)
                heard = recorder.wait_for_sound(mark)
                assert heard is not None, "nothing reached the null sink"
                latencies.append((heard - began) * 1000)
                time.sleep(1.2)
                assert player.is_playing and 0 < player.position() < 16
                player.stop()
                stopped = time.perf_counter()
                time.sleep(0.4)
            assert_chord(recorder.steady_sound(mark), CHORD, ABSENT)
            # After stop() only what was already queued (about 50 ms) may still sound.
            late = [at for at, chunk in recorder.chunks[mark:] if at > stopped + 0.15
                    and np.abs(np.frombuffer(chunk, "<i2")).max() > 0.01 * 32768]
            assert late == []
    finally:
        recorder.close()
    print(f"play -> first sound at the null sink's monitor, ms: {[round(x) for x in latencies]}")
    assert statistics.median(latencies) <= 150  # the goal, through a loopback connection


def test_the_playhead_follows_what_is_heard(pulse):
    """Chords on steps 0-3 and 16-19, silence between: when the playhead reaches 16, the second
    chord is being heard. A 300 ms server buffer makes a playhead that ignored it run ahead."""
    rows = np.full((4, 24), -1, dtype=np.int16)
    for voice, pitch in enumerate(CHORD):
        rows[voice, 0:4] = rows[voice, 16:20] = pitch
    score = Score(rows, tempo_bpm=120)  # a step is 125 ms; the gap lasts 1.5 s
    recorder = pulse.recorder()
    try:
        with Player(TINY_SOUNDFONT, server=pulse.address, latency=0.3) as player:
            mark = recorder.mark()
            player.play(score)
            reached = None
            while player.is_playing and reached is None:
                if (player.position() or 0) >= 16:
                    reached = time.perf_counter()
                time.sleep(0.002)
            player.wait(5)
        time.sleep(0.3)
        after_gap = recorder.first_sound(mark, after=recorder.first_sound(mark) + 1.0)
    finally:
        recorder.close()
    assert reached is not None and after_gap is not None
    print(f"playhead at step 16 vs second chord heard: {1000 * (reached - after_gap):+.0f} ms")
    assert abs(reached - after_gap) < 0.125  # within a step (the buffer alone is 300 ms)


def test_a_server_gone_mid_play_is_reported_and_play_reconnects(pulse):
    with Player(TINY_SOUNDFONT, server=pulse.address) as player:
        player.play(chord_score(), 0, 64)
        time.sleep(0.5)
        assert player.is_playing and player.failure is None
        pulse.stop()
        assert player.wait(5), "the session did not end when the server went away"
        assert not player.is_playing
        assert "connection to the sound server" in player.failure
        with pytest.raises(AudioUnavailable, match="cannot be reached"):
            player.play(chord_score(), 0, 8)  # still gone: a clear error, nothing hangs
        pulse.start()  # the server (the tunnel) is back on the same address
        recorder = pulse.recorder()
        try:
            mark = recorder.mark()
            player.play(chord_score(), 0, 16)
            assert recorder.wait_for_sound(mark) is not None
            assert player.failure is None and player.is_playing
            time.sleep(1.0)
            assert_chord(recorder.steady_sound(mark), CHORD, ABSENT)
        finally:
            recorder.close()


def test_a_chord_arrives_through_pipewire_pulse(tmp_path):
    """The same path into PipeWire's pulse server (with WirePlumber), as on current desktops."""
    server = PipeWireServer(tmp_path / "pipewire")
    try:
        assert "PipeWire" in server_info(server.address)["server_name"]
        recorder = server.recorder()
        try:
            with Player(TINY_SOUNDFONT, server=server.address) as player:
                mark = recorder.mark()
                began = time.perf_counter()
                player.play(chord_score(), 0, 16)
                heard = recorder.wait_for_sound(mark)
                assert heard is not None, "nothing reached PipeWire's null sink"
                time.sleep(1.0)
                player.stop()
            assert_chord(recorder.steady_sound(mark), CHORD, ABSENT)
        finally:
            recorder.close()
        print(f"PipeWire: play -> first sound {1000 * (heard - began):.0f} ms")
    finally:
        server.stop()
