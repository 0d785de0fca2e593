"""The project's own tiny SoundFont: four looped synthesized tones, one timbre per voice.

It is the last fallback of SoundFont resolution, so sound works on any machine, and it makes audio
tests deterministic. Every tone has its fundamental as the strongest partial, so a pitch detector
finds the played note. Regenerate with `python -m engine.audio.tiny_soundfont` (the bytes never change).
"""

from __future__ import annotations

import math
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from engine.fileio import atomic_write_bytes

TINY_SOUNDFONT = Path(__file__).resolve().parents[2] / "soundfonts" / "cantor-tiny.sf2"

ROOT_KEY = 69  # A4 = 440 Hz
PERIOD = 100  # sample points per cycle at the root key
SAMPLE_RATE = 44_000  # PERIOD * 440 Hz: one cycle is exactly PERIOD points, so the loop is seamless
CYCLES = 4  # stored cycles; the loop spans the middle two (SF2 wants points around a loop)
PAD = 46  # zero points the SF2 format requires after every sample
PEAK = 26_000  # int16 amplitude of the loudest point


@dataclass(frozen=True)
class Tone:
    """One timbre: partial amplitudes (fundamental first) and its volume envelope in seconds."""

    name: str
    partials: tuple[float, ...]
    attack: float
    release: float


# The fundamental is the strongest partial of each, so pitch detection is unambiguous.
TONES = (
    Tone("Soprano tone", (1.0, 0.22, 0.06, 0.02), attack=0.012, release=0.12),  # flute-like
    Tone("Alto tone", (1.0, 0.0, 0.34, 0.0, 0.16, 0.0, 0.07), attack=0.012, release=0.12),  # reed
    Tone("Tenor tone", (1.0, 0.45, 0.27, 0.17, 0.11, 0.07), attack=0.015, release=0.12),  # string
    Tone("Bass tone", (1.0, 0.6, 0.0, 0.3, 0.0, 0.0, 0.0, 0.12), attack=0.018, release=0.12),  # organ
)

# SF2 generator numbers (SoundFont 2.04 specification, section 8.1.2).
GEN_ATTACK_VOL_ENV = 34
GEN_RELEASE_VOL_ENV = 38
GEN_INSTRUMENT = 41
GEN_KEY_RANGE = 43
GEN_SAMPLE_ID = 53
GEN_SAMPLE_MODES = 54
GEN_OVERRIDING_ROOT_KEY = 58


def _cycle(tone: Tone) -> list[int]:
    """One period of the tone as int16 values, normalised to PEAK."""
    raw = [
        sum(a * math.sin(2 * math.pi * (h + 1) * i / PERIOD) for h, a in enumerate(tone.partials))
        for i in range(PERIOD)
    ]
    scale = PEAK / max(abs(x) for x in raw)
    return [round(x * scale) for x in raw]


def _timecents(seconds: float) -> int:
    return round(1200 * math.log2(seconds))


def _chunk(tag: bytes, data: bytes) -> bytes:
    if len(data) % 2:
        data += b"\0"
    return tag + struct.pack("<I", len(data)) + data


def _list(kind: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def _zstr(text: str) -> bytes:
    """A zero-terminated string padded to an even length (SF2 INFO strings)."""
    data = text.encode("ascii") + b"\0"
    return data + b"\0" * (len(data) % 2)


def _name20(text: str) -> bytes:
    return text.encode("ascii")[:19].ljust(20, b"\0")


def _gen(oper: int, amount: int) -> bytes:
    return struct.pack("<Hh", oper, amount)


def _key_range(low: int, high: int) -> bytes:
    return struct.pack("<HBB", GEN_KEY_RANGE, low, high)


def build_tiny_soundfont() -> bytes:
    """The SF2 file's bytes: presets 0..3 of bank 0 are the soprano, alto, tenor and bass tones."""
    samples = bytearray()
    shdr = bytearray()
    for tone in TONES:
        start = len(samples) // 2
        samples += struct.pack(f"<{PERIOD * CYCLES}h", *(_cycle(tone) * CYCLES))
        samples += b"\0\0" * PAD
        end = start + PERIOD * CYCLES
        loop_start, loop_end = start + PERIOD, start + PERIOD * (CYCLES - 1)
        shdr += _name20(tone.name) + struct.pack(
            "<IIIIIBbHH", start, end, loop_start, loop_end, SAMPLE_RATE, ROOT_KEY, 0, 0, 1
        )
    shdr += _name20("EOS") + bytes(26)

    inst, ibag, igen = bytearray(), bytearray(), bytearray()
    phdr, pbag, pgen = bytearray(), bytearray(), bytearray()
    for index, tone in enumerate(TONES):
        inst += _name20(tone.name) + struct.pack("<H", index)
        ibag += struct.pack("<HH", len(igen) // 4, 0)
        igen += _key_range(0, 127)  # keyRange must come first, sampleID last
        igen += _gen(GEN_ATTACK_VOL_ENV, _timecents(tone.attack))
        igen += _gen(GEN_RELEASE_VOL_ENV, _timecents(tone.release))
        igen += _gen(GEN_SAMPLE_MODES, 1)  # loop continuously
        igen += _gen(GEN_OVERRIDING_ROOT_KEY, ROOT_KEY)
        igen += _gen(GEN_SAMPLE_ID, index)
        phdr += _name20(tone.name) + struct.pack("<HHHIII", index, 0, len(pbag) // 4, 0, 0, 0)
        pbag += struct.pack("<HH", len(pgen) // 4, 0)
        pgen += _gen(GEN_INSTRUMENT, index)
    inst += _name20("EOI") + struct.pack("<H", len(ibag) // 4)
    ibag += struct.pack("<HH", len(igen) // 4, 0)
    igen += bytes(4)
    phdr += _name20("EOP") + struct.pack("<HHHIII", 0, 0, len(pbag) // 4, 0, 0, 0)
    pbag += struct.pack("<HH", len(pgen) // 4, 0)
    pgen += bytes(4)

    info = _list(
        b"INFO",
        _chunk(b"ifil", struct.pack("<HH", 2, 1)),
        _chunk(b"isng", _zstr("EMU8000")),
        _chunk(b"INAM", _zstr("cantor tiny")),
        _chunk(b"ICMT", _zstr("Four synthesized tones, one per voice (soprano, alto, tenor, bass)")),
        _chunk(b"ICOP", _zstr("Generated by cantor's engine/audio/tiny_soundfont.py; public domain")),
    )
    sdta = _list(b"sdta", _chunk(b"smpl", bytes(samples)))
    pdta = _list(
        b"pdta",
        _chunk(b"phdr", bytes(phdr)),
        _chunk(b"pbag", bytes(pbag)),
        _chunk(b"pmod", bytes(10)),
        _chunk(b"pgen", bytes(pgen)),
        _chunk(b"inst", bytes(inst)),
        _chunk(b"ibag", bytes(ibag)),
        _chunk(b"imod", bytes(10)),
        _chunk(b"igen", bytes(igen)),
        _chunk(b"shdr", bytes(shdr)),
    )
    return _chunk(b"RIFF", b"sfbk" + info + sdta + pdta)


def write_tiny_soundfont(path: Path | str = TINY_SOUNDFONT) -> Path:
    """Write the tiny SoundFont atomically; returns the path. Failures raise OSError."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # error=None: the caller (engine/audio/soundfont.py) turns an OSError into its own advice.
    return atomic_write_bytes(path, build_tiny_soundfont(), "SoundFont", error=None, mode=0o644)


if __name__ == "__main__":
    target = write_tiny_soundfont(sys.argv[1] if len(sys.argv) > 1 else TINY_SOUNDFONT)
    print(f"wrote {target} ({target.stat().st_size} bytes)")
