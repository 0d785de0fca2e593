"""A real JACK server (dummy audio driver) for the MIDI tests, and virtual MIDI devices on it.

Containers have no ALSA sequencer (/dev/snd/seq) and no `snd-virmidi`, but JACK's MIDI runs in
user space: a virtual keyboard (an rtmidi output port) and a virtual synth (an rtmidi input port)
are real MIDI ports that cantor lists, opens and talks to through mido, as it would a USB keyboard.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest

JACKD, SETPRIV = shutil.which("jackd"), shutil.which("setpriv")


class JackServer:
    def __init__(self, monkeypatch):
        if JACKD is None:
            pytest.skip("jackd is not installed (Debian: jackd2; `make test` installs it)")
        rtmidi = pytest.importorskip("rtmidi")
        self.rtmidi = rtmidi
        try:  # PortAudio starts now, before the variable below: it must not join this server
            import sounddevice  # noqa: F401 (its JACK client would abort the process at exit)
        except (ImportError, OSError):
            pass
        self.name = f"cantor-{uuid.uuid4().hex[:8]}"
        env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
        # setpriv (util-linux): jackd ends with the test process even if that one crashes.
        guard = [SETPRIV, "--pdeathsig", "TERM"] if SETPRIV else []
        self.process = subprocess.Popen(
            [*guard, JACKD, "--no-realtime", "-n", self.name, "-d", "dummy", "-r", "48000", "-p", "256"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        monkeypatch.setenv("JACK_DEFAULT_SERVER", self.name)
        monkeypatch.setenv("JACK_NO_START_SERVER", "1")
        self.devices: list = []
        deadline = time.monotonic() + 15
        while True:
            try:
                probe = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="probe")
                probe.delete()
                break
            except Exception:  # noqa: BLE001 - not up yet
                if self.process.poll() is not None or time.monotonic() > deadline:
                    error = self.process.stderr.read().decode(errors="replace")[-500:]
                    self.stop()
                    pytest.fail(f"jackd did not start: {error}")
                time.sleep(0.1)

    def keyboard(self, name: str = "keys"):
        """A virtual MIDI keyboard: `send([0x90, 60, 100])` plays middle C; cantor sees 'kbd:keys'."""
        port = self.rtmidi.MidiOut(self.rtmidi.API_UNIX_JACK, name="kbd")
        port.open_virtual_port(name)
        self.devices.append(port)
        return port

    def synth(self, name: str = "in"):
        """A virtual MIDI sound module: `messages()` returns what reached it ('synth:in')."""
        port = self.rtmidi.MidiIn(self.rtmidi.API_UNIX_JACK, name="synth")
        port.open_virtual_port(name)
        self.devices.append(port)
        return port

    def release(self) -> None:
        """Close this test's virtual devices; the server stays up for the next test."""
        for port in self.devices:
            port.close_port()
            port.delete()
        self.devices = []

    def stop(self) -> None:
        self.release()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def received(port, seconds: float = 0.3, limit: float = 5.0) -> list[list[int]]:
    """Every message a virtual synth got: read until none has come for `seconds` (at most `limit`
    seconds in all; on a busy machine JACK's cycles deliver the last ones late)."""
    out = []
    began = quiet_since = time.monotonic()
    while True:
        message = port.get_message()
        now = time.monotonic()
        if message is not None:
            out.append(message[0])
            quiet_since = now
        elif now - quiet_since >= seconds or now - began >= limit:
            return out
        else:
            time.sleep(0.01)


_server: JackServer | None = None  # one server for the whole run: see `jack`


@pytest.fixture
def jack(monkeypatch):
    """The run's JACK server, with this test's devices closed at its end.

    The server lives until the test process ends (setpriv kills it then): rtmidi objects that
    the garbage collector frees later, whenever it runs, still find their server. Stopping it
    after each test (with a gc.collect() before) crashed the process now and then in CI.
    """
    global _server
    if _server is None or _server.process.poll() is not None:
        _server = JackServer(monkeypatch)
    monkeypatch.setenv("JACK_DEFAULT_SERVER", _server.name)
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    yield _server
    _server.release()
