"""Writing MIDI files: the type-1 layout `save_midi` produces (see engine/music/midi.py)."""

from __future__ import annotations

import io
import math
from pathlib import Path

from engine.errors import MidiFileError
from engine.fileio import atomic_output
from engine.music.midi_fermatas import fermata_markers
from engine.music.score import NUM_VOICES, VOICE_NAMES, Score

TICKS_PER_QUARTER = 480
TICKS_PER_STEP = TICKS_PER_QUARTER // 4
SIGNATURE = "cantor score"
PICKUP_MARKER = "cantor pickup"
VELOCITY = 90



def save_midi(score: Score, path) -> Path:
    """Write `score` as a type-1 MIDI file, atomically; raises MidiFileError."""
    data = midi_bytes(score)
    with atomic_output(path, "MIDI file") as tmp:
        tmp.write_bytes(data)
    return Path(path)


def midi_bytes(score: Score) -> bytes:
    """The bytes of the MIDI file `save_midi` writes."""
    import mido

    end_tick = score.num_steps * TICKS_PER_STEP
    conductor = [
        mido.MetaMessage("track_name", name=_to_latin1(score.title), time=0),
        mido.MetaMessage("text", text=SIGNATURE, time=0),
    ]
    num, den = score.time_signature
    if score.pickup:
        pnum, pden = _pickup_signature(score.pickup)
        if pnum <= 255:
            conductor.append(_time_signature(pnum, pden, 0))
        else:
            conductor.append(mido.MetaMessage("marker", text=f"{PICKUP_MARKER} {score.pickup}"))
    if score.key:
        conductor.append(mido.MetaMessage("key_signature", key=midi_key_name(score.key), time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=round(60e6 / score.tempo_bpm), time=0))
    conductor.append(_time_signature(num, den, score.pickup * TICKS_PER_STEP))
    conductor += fermata_markers(score.fermatas, TICKS_PER_STEP)
    conductor.sort(key=lambda msg: msg.time)  # stable: events at one tick keep their order
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER)
    midi.tracks.append(_track(conductor, end_tick))
    for v in range(NUM_VOICES):
        track = mido.MidiTrack(
            [
                mido.MetaMessage("track_name", name=VOICE_NAMES[v], time=0),
                mido.Message("program_change", channel=v, program=score.programs[v], time=0),
            ]
        )
        now = 0
        for start, length, pitch in score.notes(v):
            # Notes of a voice never overlap, so each off comes before the next on.
            on, off = start * TICKS_PER_STEP, (start + length) * TICKS_PER_STEP
            # Values are valid by construction (Score checks pitches), so skip mido's checks.
            track.append(
                mido.Message(
                    "note_on",
                    skip_checks=True,
                    channel=v,
                    note=pitch,
                    velocity=VELOCITY,
                    time=on - now,
                )
            )
            track.append(
                mido.Message(
                    "note_off", skip_checks=True, channel=v, note=pitch, velocity=0, time=off - on
                )
            )
            now = off
        track.append(mido.MetaMessage("end_of_track", time=end_tick - now))
        midi.tracks.append(track)
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def _track(events_at_ticks: list, end_tick: int):
    """A MidiTrack from messages whose `time` is an absolute tick."""
    import mido

    track = mido.MidiTrack()
    now = 0
    for msg in events_at_ticks:
        track.append(msg.copy(time=msg.time - now))
        now = msg.time
    track.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - now)))
    return track


def _time_signature(num: int, den: int, tick: int):
    import mido

    return mido.MetaMessage("time_signature", numerator=num, denominator=den, time=tick)


def _pickup_signature(steps: int) -> tuple[int, int]:
    """A pickup of `steps` 16ths as the smallest time signature p/16 reduces to (4 -> 1/4)."""
    g = math.gcd(steps, 16)
    return steps // g, 16 // g


def _to_latin1(text: str) -> str:
    """MIDI text is bytes; store UTF-8 bytes so any title survives (mido writes latin-1)."""
    return text.encode("utf-8").decode("latin-1")


def midi_key_name(key: str) -> str:
    """A key as MIDI can store it ("C", "F#m", "Bb"); accepts "A minor", "B- major" too."""
    from mido.midifiles.meta import _key_signature_encode

    text = key.strip()
    words = text.split()
    if len(words) == 2 and words[1].lower() in ("major", "minor"):
        tonic = words[0][:1].upper() + words[0][1:].replace("-", "b")
        text = tonic + ("m" if words[1].lower() == "minor" else "")
    if text not in _key_signature_encode:
        raise MidiFileError(
            f"key {key!r} cannot be stored in MIDI: use a name such as C, F#, Bb, Am or C#m"
        )
    return text
