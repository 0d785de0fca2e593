"""A real PulseAudio server for tests: a null sink, the native protocol on a loopback port, and a
recorder of the sink's monitor (what a listener would hear), with the pitches found by FFT."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

PULSEAUDIO, PAREC = shutil.which("pulseaudio"), shutil.which("parec")
SR = 44100
SINK = "cantor_null"
TCP_OPTIONS = "listen=127.0.0.1 auth-ip-acl=127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float = 15, process=None) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            if process is not None and process.poll() is not None:
                return False
            time.sleep(0.05)
    return False


class PulseServer:
    """`pulseaudio` in a throw-away HOME and XDG_RUNTIME_DIR, listening on 127.0.0.1:port."""

    def __init__(self, folder: Path, port: int | None = None):
        if PULSEAUDIO is None or PAREC is None:
            pytest.skip("pulseaudio / pulseaudio-utils (parec) are not installed")
        self.folder, self.port = folder, port or free_port()
        self.address = f"tcp:127.0.0.1:{self.port}"
        home, runtime = folder / "home", folder / "runtime"
        home.mkdir(parents=True, exist_ok=True)
        runtime.mkdir(mode=0o700, exist_ok=True)
        self.env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime),
                    "XDG_CONFIG_HOME": str(home / ".config")}
        self.env.pop("PULSE_SERVER", None)
        self.log = folder / "pulseaudio.log"
        self.process = None
        self.start()

    def start(self) -> None:
        # -n: no default script, so only what is loaded here exists. As root PulseAudio warns but
        # runs (CI runs as root); the TCP module's auth-ip-acl lets loopback clients in unasked.
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [PULSEAUDIO, "--daemonize=no", "-n", "--exit-idle-time=-1", "--use-pid-file=no",
                 "--log-target=stderr", "-L", f"module-null-sink sink_name={SINK} rate={SR}",
                 "-L", f"module-native-protocol-tcp port={self.port} {TCP_OPTIONS}"],
                env=self.env, stdout=log, stderr=log,
            )
        if not wait_for_port(self.port, process=self.process):
            text = self.log.read_text(errors="replace")[-400:]
            self.stop()
            pytest.skip(f"pulseaudio did not start here: {text}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def recorder(self) -> Recorder:
        """A recorder of the null sink's monitor, already recording."""
        recorder = Recorder(self.address, f"{SINK}.monitor", self.env)
        recorder.wait_ready()
        return recorder


class Recorder:
    """parec on a monitor source: 5 ms chunks, each stamped with when it arrived."""

    CHUNK = 220 * 4  # 220 stereo s16 frames, 5 ms

    def __init__(self, server: str, source: str, env: dict):
        self.chunks: list[tuple[float, bytes]] = []
        self.process = subprocess.Popen(
            [PAREC, f"--server={server}", f"--device={source}", "--format=s16le", f"--rate={SR}",
             "--channels=2", "--raw", "--latency-msec=5"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            data = self.process.stdout.read1(self.CHUNK) if hasattr(self.process.stdout, "read1") \
                else self.process.stdout.read(self.CHUNK)
            if not data:
                return
            self.chunks.append((time.perf_counter(), data))

    def wait_ready(self, seconds: float = 15.0) -> None:
        """Wait for the first chunk: on a fresh server parec takes a second or two to start."""
        end = time.monotonic() + seconds
        while not self.chunks and time.monotonic() < end:
            time.sleep(0.01)
        assert self.chunks, "parec recorded nothing"

    def mark(self) -> int:
        return len(self.chunks)

    def samples(self, since: int = 0) -> np.ndarray:
        """Mono float samples recorded since chunk `since`."""
        data = b"".join(chunk for _, chunk in self.chunks[since:])
        data = data[: len(data) // 4 * 4]
        return np.frombuffer(data, "<i2").reshape(-1, 2).mean(axis=1) / 32768.0

    def steady_sound(self, since: int, skip: float = 0.15, length: float = 0.6) -> np.ndarray:
        """Mono samples from `skip` to `skip + length` seconds after the first sound since `since`:
        past the attack and before any stop, whose click would smear the spectrum."""
        mono = self.samples(since)
        loud = np.flatnonzero(np.abs(mono) > 0.01)
        assert len(loud), "nothing was heard"
        start = int(loud[0] + skip * SR)
        return mono[start : start + int(length * SR)]

    def first_sound(self, since: int, after: float = 0.0, threshold: float = 0.01) -> float | None:
        """perf_counter() time of the first chunk (from `since`, arrived after `after`) with sound."""
        for at, chunk in self.chunks[since:]:
            if at >= after and np.abs(np.frombuffer(chunk, "<i2")).max() / 32768.0 > threshold:
                return at
        return None

    def wait_for_sound(self, since: int, seconds: float = 10.0) -> float | None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            found = self.first_sound(since)
            if found is not None:
                return found
            time.sleep(0.01)
        return None

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def hz(pitch: int) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


def pitch_strengths(mono: np.ndarray, pitches) -> dict[int, float]:
    """Spectral magnitude at each MIDI pitch (peak within a quarter tone), relative to the largest."""
    size = 1 << max(16, int(np.ceil(np.log2(len(mono)))))
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono)), size))
    peak = spectrum.max() or 1.0
    found = {}
    for pitch in pitches:
        low, high = hz(pitch) * 2 ** (-1 / 24), hz(pitch) * 2 ** (1 / 24)
        found[pitch] = float(spectrum[int(low * size / SR) : int(high * size / SR) + 1].max() / peak)
    return found


def assert_chord(mono: np.ndarray, chord, absent) -> None:
    """Every pitch of `chord` stands out of the spectrum; the `absent` ones do not."""
    assert len(mono) > SR // 4, f"only {len(mono)} samples were recorded"
    strengths = pitch_strengths(mono, [*chord, *absent])
    weakest = min(strengths[p] for p in chord)
    strongest_absent = max(strengths[p] for p in absent)
    assert weakest > 0.1 and weakest > 4 * strongest_absent, strengths


PIPEWIRE = [shutil.which(n) for n in ("dbus-run-session", "pipewire", "wireplumber",
                                      "pipewire-pulse", "pactl")]
# PipeWire 0.3.65 keeps a client admitted by auth-ip-acl waiting for a permission that a headless
# session never grants; auth-anonymous on the loopback address lets it in (the README says so).
PIPEWIRE_TCP = "listen=127.0.0.1 auth-anonymous=1"


class PipeWireServer(PulseServer):
    """PipeWire with WirePlumber and pipewire-pulse in a private D-Bus session (WirePlumber needs
    one), a null sink and the pulse protocol on a loopback port: a current Linux desktop's stack."""

    def start(self) -> None:
        if None in PIPEWIRE:
            pytest.skip("pipewire, pipewire-pulse, wireplumber or dbus are not installed")
        script = "pipewire & sleep 0.5; wireplumber & sleep 0.5; pipewire-pulse & wait"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["dbus-run-session", "--", "sh", "-c", script], env=self.env, stdout=log,
                stderr=log, start_new_session=True,  # one process group: stop() ends them all
            )
        native = Path(self.env["XDG_RUNTIME_DIR"]) / "pulse" / "native"
        end = time.monotonic() + 20
        while not native.exists() and time.monotonic() < end:
            time.sleep(0.1)
        for module in (f"module-null-sink sink_name={SINK}",
                       f"module-native-protocol-tcp port={self.port} {PIPEWIRE_TCP}"):
            loaded = subprocess.run(["pactl", "load-module", *module.split()], env=self.env,
                                    capture_output=True, text=True, timeout=20, check=False)
            if loaded.returncode != 0:
                self.stop()
                pytest.skip(f"pipewire-pulse did not start here: {loaded.stderr[-300:]}")
        if not wait_for_port(self.port, process=self.process):
            self.stop()
            pytest.skip("pipewire-pulse does not listen on its TCP port")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(10)
        self.process = None
