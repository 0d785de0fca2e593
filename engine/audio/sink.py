"""Where sound goes: a forwarded pulse-protocol server (e.g. the user's laptop through an SSH
tunnel), this machine's device, or nowhere (and why); and the output that feeds such a server.
"""

from __future__ import annotations

import getpass
import os
import shlex
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio.pulse import PulseStream, SoundPathBroken, server_info
from engine.errors import AudioUnavailable

BLOCK_FRAMES = 441  # 10 ms at 44.1 kHz: a stop is heard within one block
PROBE_SECONDS = 3.0  # how long a sound server may take to answer before it counts as gone
TARGET_LATENCY = 0.05  # seconds of sound queued at the server: small, yet safe on a loopback tunnel
LOOPBACK_HOSTS = ("localhost", "::1", "ip6-localhost")
NO_DEVICE = (
    "no audio output device (normal over SSH or in a container): forward your own sound server"
    " (PULSE_SERVER, see the README) or write a WAV with `cantor render IN.mid -o OUT.wav`"
)


def configured_server(setting: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The pulse server to play through: the setting when given, else $PULSE_SERVER, else None."""
    environ = os.environ if environ is None else environ
    value = (setting or "").strip() or environ.get("PULSE_SERVER", "").strip()
    return value or None


def _first_address(server: str) -> str:
    """PULSE_SERVER may list several addresses, each perhaps behind a {machine-id}."""
    first = server.split()[0] if server.split() else ""
    if first.startswith("{") and "}" in first:
        first = first.split("}", 1)[1]
    return first


def is_loopback(server: str) -> bool:
    """True for a server on this machine's loopback or a local socket: where `ssh -R` ends."""
    address = _first_address(server)
    if address.startswith(("unix:", "/")):
        return True
    for prefix in ("tcp4:", "tcp6:", "tcp:"):
        if address.startswith(prefix):
            address = address[len(prefix):]
            break
    if address.startswith("["):  # [::1]:4713
        host = address[1:].split("]", 1)[0]
    else:
        host = address.rsplit(":", 1)[0] if address.count(":") == 1 else address
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def in_ssh_session(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return any(environ.get(name) for name in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"))


@dataclass(frozen=True)
class SoundRoute:
    """Where sound goes, for the status bar: `text` is short, `detail` the full reason."""

    kind: str  # "pulse", "device", "midi", "browser" (the page plays it) or "none"
    text: str
    server: str | None = None
    detail: str = ""

    @property
    def playable(self) -> bool:
        return self.kind != "none"


def describe_pulse(server: str, host: str, environ: Mapping[str, str] | None = None) -> str:
    """ "sound: laptop via SSH tunnel", "sound: this machine", or "sound: HOST (SERVER)"."""
    host = host or "the sound server"
    if in_ssh_session(environ) and is_loopback(server):
        return f"sound: {host} via SSH tunnel"
    if host == socket.gethostname():
        return "sound: this machine"
    return f"sound: {host} ({server})"


def detect_route(setting: str | None = None, *, device=None, timeout: float = 3.0,
                 environ: Mapping[str, str] | None = None) -> SoundRoute:
    """Find out where sound would go; may take up to `timeout` seconds (call it in a thread)."""
    from engine.audio.synth import load_fluidsynth, load_sounddevice, quiet_stderr

    try:
        load_fluidsynth()
    except AudioUnavailable as exc:
        return SoundRoute("none", "no sound: FluidSynth missing", detail=str(exc))
    server = configured_server(setting, environ)
    if server:
        try:
            info = server_info(server, timeout)
        except AudioUnavailable as exc:
            return SoundRoute("none", f"no sound: {server} not answering", server, str(exc))
        return SoundRoute("pulse", describe_pulse(server, info.get("host_name", ""), environ), server)
    try:
        sounddevice = load_sounddevice()
        with quiet_stderr():
            sounddevice.query_devices(device, kind="output")
    except AudioUnavailable as exc:
        return SoundRoute("none", "no sound: PortAudio missing", detail=str(exc))
    except Exception:  # noqa: BLE001 - sounddevice raises ValueError or PortAudioError
        return SoundRoute("none", "no sound: no output device", detail=NO_DEVICE)
    return SoundRoute("device", "sound: this machine")


class _BlockDone(Exception):
    """Raised by the session's callback after its last block (as PortAudio's CallbackStop is)."""


class PulseOutput:
    """Feeds a playback session to a pulse server from a writer thread, 10 ms at a time.

    The server's reported latency is passed to the session after every block, so the playhead
    shows what is heard. A broken connection ends the session and sets `failure`; the next
    start() connects again (the tunnel may be back)."""

    callback_stop = _BlockDone

    def __init__(self, server: str, sample_rate: int, latency: float = TARGET_LATENCY):
        self.server, self.sample_rate, self.latency = server, sample_rate, latency
        self.failure: str | None = None
        self._stream: PulseStream | None = self._connect()
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()

    def _connect(self) -> PulseStream:
        # The probe has a timeout; libpulse-simple has none, and a server that holds a client
        # waiting for permission (PipeWire with auth-ip-acl) would hang it for ever.
        server_info(self.server, PROBE_SECONDS)
        return PulseStream(self.server, self.sample_rate, latency=self.latency)

    def start(self, session) -> None:
        self.failure = None
        if self._stream is None:
            self._stream = self._connect()
        self._halt = threading.Event()
        self._thread = threading.Thread(
            target=self._feed, args=(session, self._stream, self._halt), name="cantor-pulse",
            daemon=True,
        )
        self._thread.start()

    def _feed(self, session, stream: PulseStream, halt: threading.Event) -> None:
        block = np.zeros((BLOCK_FRAMES, 2), dtype=np.float32)
        written = 0
        try:
            last = False
            while not halt.is_set() and not last:
                try:
                    session.callback(block, BLOCK_FRAMES, None, None)
                except _BlockDone:
                    last = True
                frames = np.round(np.clip(block, -1.0, 1.0) * 32767.0).astype("<i2")
                try:
                    stream.write(frames)
                except SoundPathBroken:
                    if written:
                        raise
                    # The link died while idle (a tunnel closed and reopened): connect again once.
                    stream.close()
                    stream = self._stream = self._connect()
                    stream.write(frames)
                written += 1
                session.latency_frames = round(stream.latency() * self.sample_rate)
            if halt.is_set():
                stream.flush()
        except AudioUnavailable as exc:  # broken, or not reached again
            self.failure = str(exc)
            self._stream = None
            stream.close()
        finally:
            session.finished.set()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._halt.set()
        if thread is not None:
            thread.join(timeout=1.0)
            if thread.is_alive():  # a write hangs on a dead link: leave that stream behind
                self._stream = None

    def close(self) -> None:
        self.stop()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()


def fetch_command(path, environ: Mapping[str, str] | None = None) -> str:
    """A one-line `scp` that copies `path` from this machine to the current folder of the user's.

    Over SSH the address is the one the user's connection reached (from $SSH_CONNECTION),
    with its port; otherwise this machine's host name."""
    environ = os.environ if environ is None else environ
    user = environ.get("USER") or getpass.getuser()
    host, port = socket.gethostname(), "22"
    fields = environ.get("SSH_CONNECTION", "").split()
    if len(fields) == 4:
        host, port = fields[2], fields[3]
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    option = "" if port == "22" else f"-P {port} "
    source = f"{user}@{host}:{Path(path).resolve()}"
    return f"scp {option}{shlex.quote(source)} ."
