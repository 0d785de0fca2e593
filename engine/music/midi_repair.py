"""Reading slightly damaged MIDI files: mido's strict parser first, then small repairs, each reported.

Real files from other programs are sometimes off in one of two harmless ways: a track chunk whose
declared length is wrong while its events end properly (End of Track), or a data byte above 127.
When the strict reading fails, the length is set to where End of Track is and/or mido's `clip`
option clamps the data bytes; the LoadReport says which. Anything else stays an error.
"""

from __future__ import annotations

import io

END_OF_TRACK = b"\xff\x2f\x00"


def parse_tolerant(data: bytes):
    """(mido.MidiFile, repairs made); raises what the strict reading raised if nothing helps."""
    import mido

    try:
        return mido.MidiFile(file=io.BytesIO(data)), []
    except Exception as strict_failure:  # mido raises OSError, ValueError, EOFError, KeyError...
        fixed, lengths = fix_track_lengths(data)
        length_note = f"{lengths} track length{'s' if lengths > 1 else ''} repaired"
        attempts = [(data, True, ["data bytes above 127 clipped to 127"])]
        if lengths:
            attempts = [(fixed, False, [length_note]),
                        (fixed, True, [length_note, "data bytes above 127 clipped to 127"])]
        for candidate, clip, repairs in attempts:
            try:
                return mido.MidiFile(file=io.BytesIO(candidate), clip=clip), repairs
            except Exception:  # noqa: BLE001, S112 - the next repair may still work
                continue
        raise strict_failure from None


def fix_track_lengths(data: bytes) -> tuple[bytes, int]:
    """The file with each MTrk length that misses its End of Track set to end there; and how many."""
    out = bytearray(data)
    header_length = int.from_bytes(data[4:8], "big")
    at, fixed = 8 + header_length, 0
    while at + 8 <= len(out) and out[at : at + 4] == b"MTrk":
        declared = int.from_bytes(out[at + 4 : at + 8], "big")
        body = at + 8
        eot = out.find(END_OF_TRACK, body)
        end = body + declared
        follows = bytes(out[end : end + 4])
        if eot >= 0 and eot + 3 != end and (end > len(out) or follows not in (b"MTrk", b"")):
            end = eot + 3
            out[at + 4 : at + 8] = (end - body).to_bytes(4, "big")
            fixed += 1
        at = end
    return bytes(out), fixed
