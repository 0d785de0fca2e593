"""libpulse through ctypes: a playback stream to a PulseAudio/PipeWire (pulse protocol) server, and a probe.

cantor speaks to the server directly rather than through PortAudio and ALSA's pulse plugin: the
server reports the stream's latency (so the playhead follows what is heard), a closed connection
comes back as an error on the next write (so a dropped SSH tunnel is noticed at once), and the
buffer size is ours to choose (low latency on a loopback tunnel). Needs only libpulse0.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time

from engine.errors import AudioUnavailable

PA_SAMPLE_S16LE = 3  # 16-bit samples: half the bytes of float32 through an SSH tunnel
PA_STREAM_PLAYBACK = 1
PA_CONTEXT_NOAUTOSPAWN = 1
PA_CONTEXT_READY, PA_CONTEXT_FAILED, PA_CONTEXT_TERMINATED = 4, 5, 6
NO_VALUE = 0xFFFFFFFF  # (uint32_t) -1: "let the server choose"
INSTALL = "install it with `sudo apt-get install libpulse0`"


class SoundPathBroken(AudioUnavailable):
    """The connection to the sound server broke (tunnel closed, server gone)."""


class _SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32), ("channels", ctypes.c_uint8)]


class _BufferAttr(ctypes.Structure):
    _fields_ = [
        ("maxlength", ctypes.c_uint32),
        ("tlength", ctypes.c_uint32),
        ("prebuf", ctypes.c_uint32),
        ("minreq", ctypes.c_uint32),
        ("fragsize", ctypes.c_uint32),
    ]


class _ServerInfo(ctypes.Structure):  # the leading fields of pa_server_info
    _fields_ = [
        ("user_name", ctypes.c_char_p),
        ("host_name", ctypes.c_char_p),
        ("server_version", ctypes.c_char_p),
        ("server_name", ctypes.c_char_p),
    ]


_SERVER_INFO_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_ServerInfo), ctypes.c_void_p)
_libs: tuple | None = None
_libs_lock = threading.Lock()


def _load(name: str):
    path = ctypes.util.find_library(name) or f"lib{name}.so.0"
    try:
        return ctypes.CDLL(path)
    except OSError:
        raise AudioUnavailable(f"the PulseAudio client library ({name}) is missing: {INSTALL}") from None


def libraries() -> tuple:
    """(libpulse, libpulse-simple) with the prototypes cantor uses; raises AudioUnavailable."""
    global _libs
    with _libs_lock:
        if _libs is not None:
            return _libs
        pulse, simple = _load("pulse"), _load("pulse-simple")
        vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        pulse.pa_strerror.restype, pulse.pa_strerror.argtypes = cp, [i]
        for name, res, args in (
            ("pa_mainloop_new", vp, []),
            ("pa_mainloop_get_api", vp, [vp]),
            ("pa_mainloop_prepare", i, [vp, i]),
            ("pa_mainloop_poll", i, [vp]),
            ("pa_mainloop_dispatch", i, [vp]),
            ("pa_mainloop_free", None, [vp]),
            ("pa_context_new", vp, [vp, cp]),
            ("pa_context_connect", i, [vp, cp, i, vp]),
            ("pa_context_get_state", i, [vp]),
            ("pa_context_errno", i, [vp]),
            ("pa_context_get_server_info", vp, [vp, _SERVER_INFO_CB, vp]),
            ("pa_context_disconnect", None, [vp]),
            ("pa_context_unref", None, [vp]),
            ("pa_operation_unref", None, [vp]),
        ):
            function = getattr(pulse, name)
            function.restype, function.argtypes = res, args
        ip = ctypes.POINTER(ctypes.c_int)
        for name, res, args in (
            ("pa_simple_new", vp, [cp, cp, i, cp, cp, ctypes.POINTER(_SampleSpec), vp,
                                   ctypes.POINTER(_BufferAttr), ip]),
            ("pa_simple_write", i, [vp, vp, ctypes.c_size_t, ip]),
            ("pa_simple_get_latency", ctypes.c_uint64, [vp, ip]),
            ("pa_simple_flush", i, [vp, ip]),
            ("pa_simple_free", None, [vp]),
        ):
            function = getattr(simple, name)
            function.restype, function.argtypes = res, args
        _libs = (pulse, simple)
        return _libs


def _strerror(code: int) -> str:
    pulse, _ = libraries()
    text = pulse.pa_strerror(code)
    return text.decode(errors="replace") if text else f"error {code}"


def server_info(server: str, timeout: float = 3.0) -> dict[str, str]:
    """Ask the server at `server` (a PULSE_SERVER string) who it is: host_name, server_name, ...

    Raises AudioUnavailable when it cannot be reached within `timeout` seconds."""
    pulse, _ = libraries()
    loop = pulse.pa_mainloop_new()
    context = pulse.pa_context_new(pulse.pa_mainloop_get_api(loop), b"cantor probe")
    found: dict[str, str] = {}

    @_SERVER_INFO_CB
    def got(_context, info, _userdata):
        if info:
            for name, _ in _ServerInfo._fields_:
                value = getattr(info.contents, name)
                found[name] = value.decode(errors="replace") if value else ""
        found.setdefault("done", "yes")

    operation = None
    try:
        if pulse.pa_context_connect(context, server.encode(), PA_CONTEXT_NOAUTOSPAWN, None) < 0:
            raise AudioUnavailable(_unreachable(server, _strerror(pulse.pa_context_errno(context))))
        deadline = time.monotonic() + timeout
        while "done" not in found:
            state = pulse.pa_context_get_state(context)
            if state in (PA_CONTEXT_FAILED, PA_CONTEXT_TERMINATED):
                raise AudioUnavailable(
                    _unreachable(server, _strerror(pulse.pa_context_errno(context)))
                )
            if state == PA_CONTEXT_READY and operation is None:
                operation = pulse.pa_context_get_server_info(context, got, None)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AudioUnavailable(_unreachable(
                    server, "no answer in time; PipeWire wants auth-anonymous=1, not auth-ip-acl"
                ))
            # prepare/poll/dispatch instead of iterate: iterate could wait for ever.
            if pulse.pa_mainloop_prepare(loop, int(min(left, 0.1) * 1e6)) < 0:
                break
            pulse.pa_mainloop_poll(loop)
            pulse.pa_mainloop_dispatch(loop)
        return found
    finally:
        if operation:
            pulse.pa_operation_unref(operation)
        pulse.pa_context_disconnect(context)
        pulse.pa_context_unref(context)
        pulse.pa_mainloop_free(loop)


def _unreachable(server: str, why: str) -> str:
    return (
        f"the sound server {server} cannot be reached ({why}): is the SSH tunnel open"
        " (ssh -R PORT:localhost:4713) and the client's server listening?"
    )


class PulseStream:
    """A blocking 16-bit stereo playback stream on a pulse-protocol server (libpulse-simple)."""

    def __init__(self, server: str | None, sample_rate: int, *, latency: float = 0.05,
                 name: str = "cantor"):
        _, self._lib = libraries()
        self.server, self.sample_rate = server, sample_rate
        spec = _SampleSpec(PA_SAMPLE_S16LE, sample_rate, 2)
        target = int(latency * sample_rate) * 4  # bytes of `latency` seconds
        # A small target and a one-block start threshold: the first sound leaves at once.
        attr = _BufferAttr(NO_VALUE, target, target // 4, target // 4, NO_VALUE)
        error = ctypes.c_int(0)
        self._handle = self._lib.pa_simple_new(
            server.encode() if server else None, name.encode(), PA_STREAM_PLAYBACK, None,
            b"playback", ctypes.byref(spec), None, ctypes.byref(attr), ctypes.byref(error),
        )
        if not self._handle:
            raise AudioUnavailable(_unreachable(server or "(default)", _strerror(error.value)))

    def write(self, frames) -> None:
        """Queue int16 stereo frames (numpy, C order); blocks while the server's buffer is full."""
        error = ctypes.c_int(0)
        if self._handle is None:
            raise SoundPathBroken("the stream to the sound server is closed")
        if self._lib.pa_simple_write(self._handle, frames.ctypes.data, frames.nbytes,
                                     ctypes.byref(error)) < 0:
            raise SoundPathBroken(
                f"the connection to the sound server {self.server or ''} broke"
                f" ({_strerror(error.value)})".replace("  ", " ")
            )

    def latency(self) -> float:
        """Seconds until a frame written now is heard, as the server reports it (0 if unknown)."""
        error = ctypes.c_int(0)
        usec = self._lib.pa_simple_get_latency(self._handle, ctypes.byref(error))
        return 0.0 if usec == 2**64 - 1 else usec / 1e6

    def flush(self) -> None:
        """Drop what is queued but not yet heard (an instant stop); errors are ignored."""
        error = ctypes.c_int(0)
        if self._handle is not None:
            self._lib.pa_simple_flush(self._handle, ctypes.byref(error))

    def close(self) -> None:
        if self._handle is not None:
            self._lib.pa_simple_free(self._handle)
            self._handle = None
