"""MIDI fuzzing, run by hand (not part of the test suite): mutated files through `load_midi`.

Seeds are small real files (cantor's own, type 0 chords, many tracks, running status); each input
is one of them with a few mutations: bit flips, byte inserts/deletes, truncation, huge delta times,
a wrong track count, dropped status bytes (running status), a repeated or wrong-length chunk. Every
input is loaded in this process under a time limit (SIGALRM) and a memory ceiling (RLIMIT_AS), and
counted by outcome: loaded, refused (one-line MidiFileError), and the failures: other exception,
multi-line message, over time, out of memory. Failing inputs are kept with --keep DIR.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python tests/bench/fuzz_midi.py
        [--count 10000] [--seed 0] [--seconds 2] [--memory-mb 1024] [--keep DIR] [--json]
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import random
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import mido
import numpy as np

from engine.errors import MidiFileError
from engine.music.midi import load_midi, midi_bytes
from engine.music.score import Score


class OverTime(Exception):
    """Raised by the alarm when one input takes longer than its limit."""


def seeds() -> list[bytes]:
    """A handful of small, valid files of different shapes."""
    rows = np.array([[72, 72, 74, 76] * 8, [67] * 32, [64, 64, 62, 60] * 8, [48] * 32], np.int16)
    found = [midi_bytes(Score(rows, title="seed", key="G"))]
    chords = mido.MidiFile(type=0, ticks_per_beat=96)
    track = mido.MidiTrack()
    for beat in range(16):
        for pitch in (60 + beat % 5, 64, 67, 72):
            track.append(mido.Message("note_on", note=pitch, velocity=70, time=0))
        track.append(mido.Message("note_off", note=60 + beat % 5, time=96))
        for pitch in (64, 67, 72):
            track.append(mido.Message("note_off", note=pitch, time=0))
    chords.tracks.append(track)
    many = mido.MidiFile(type=1, ticks_per_beat=480)
    for channel in range(6):
        many.tracks.append(mido.MidiTrack(
            [mido.Message("program_change", channel=channel, program=channel * 7)]
            + [m for k in range(8) for m in (
                mido.Message("note_on", channel=channel, note=48 + 5 * channel + k % 3, time=240),
                mido.Message("note_on", channel=channel, note=48 + 5 * channel + k % 3,
                             velocity=0, time=200))]))
    for midi in (chords, many):
        out = io.BytesIO()
        midi.save(file=out)  # mido writes running status
        found.append(out.getvalue())
    return found


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random mutations of `data`."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["flip", "flip", "insert", "delete", "truncate", "delta", "tracks",
                           "status", "chunk", "length"])
        at = rng.randrange(max(1, len(out)))
        if kind == "flip" and out:
            out[at] ^= 1 << rng.randrange(8)
        elif kind == "insert":
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == "delete":
            del out[at : at + rng.randint(1, 8)]
        elif kind == "truncate":
            del out[at:]
        elif kind == "delta":  # a maximal variable-length delta time
            out[at:at] = bytes([0xFF, 0xFF, 0xFF, 0x7F])
        elif kind == "tracks" and len(out) >= 12:
            out[10:12] = rng.choice([0, 1, 2, 255, 65535]).to_bytes(2, "big")
        elif kind == "status":  # drop a status byte: the following data byte becomes running status
            positions = [i for i in range(14, len(out)) if 0x80 <= out[i] < 0xF0]
            if positions:
                del out[rng.choice(positions)]
        elif kind == "chunk":
            start = out.find(b"MTrk", 14)
            if start >= 0:
                out += out[start:]
        elif kind == "length":
            start = out.find(b"MTrk")
            if start >= 0:
                out[start + 4 : start + 8] = rng.choice([0, 1, 2**31 - 1, 2**32 - 1]).to_bytes(4, "big")
    return bytes(out)


def run_one(path: Path, seconds: float) -> str:
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        load_midi(path)
    except MidiFileError as exc:
        return "refused" if "\n" not in str(exc) else "multi-line message"
    except OverTime:
        return "over time"
    except MemoryError:
        return "out of memory"
    except Exception as exc:  # noqa: BLE001 - exactly what this harness looks for
        return f"crash: {type(exc).__name__}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return "loaded"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=2.0, help="time limit per input")
    parser.add_argument("--memory-mb", type=int, default=1024, help="address-space ceiling")
    parser.add_argument("--keep", type=Path, help="folder for the inputs that failed")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    def alarm(*_):
        raise OverTime

    signal.signal(signal.SIGALRM, alarm)
    limit = args.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    rng = random.Random(args.seed)
    bases = seeds()
    counts: collections.Counter = collections.Counter()
    slowest = (0.0, -1)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.mid"
        for k in range(args.count):
            data = mutate(rng.choice(bases), rng)
            path.write_bytes(data)
            began = time.perf_counter()
            outcome = run_one(path, args.seconds)
            slowest = max(slowest, (time.perf_counter() - began, k))
            counts[outcome] += 1
            if args.keep and outcome not in ("loaded", "refused"):
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"{k:06d}.mid").write_bytes(data)
    report = {
        "inputs": args.count,
        "seed": args.seed,
        "outcomes": dict(counts.most_common()),
        "slowest_ms": round(slowest[0] * 1000, 1),
        "slowest_input": slowest[1],
        "wall_s": round(time.perf_counter() - started, 1),
    }
    if args.json:
        print(json.dumps(report))
    else:
        for outcome, n in counts.most_common():
            print(f"{outcome:<24} {n:>7}")
        print(f"slowest input #{slowest[1]}: {report['slowest_ms']} ms; {report['wall_s']} s in all")
    return 0 if set(counts) <= {"loaded", "refused"} else 1


if __name__ == "__main__":
    sys.exit(main())
