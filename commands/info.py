"""`cantor info FILE.mid`: what the MIDI loader made of a file."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    info = subparsers.add_parser(
        "info",
        help="show what cantor reads from a MIDI file: voices, meter, tempo, ranges, changes",
        description="Read a MIDI file as cantor does and show the four voices it made, the meter,"
        " pickup, tempo, key, length, each voice's range, and what the loader had to change.",
    )
    info.add_argument("input", metavar="FILE.mid", help="MIDI file to read")
    info.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    info.set_defaults(func=run_info)


def note_name(pitch: int, key: str | None = None) -> str:
    """MIDI pitch -> name with octave, middle C = C4, spelled for `key` (Bb4 in F, not A#4)."""
    from engine.music.spelling import spell

    return spell(pitch, key)


def describe(path) -> dict:
    """Everything `cantor info` shows, as plain data."""
    from engine.music.load import load_score_report
    from engine.music.score import VOICE_NAMES

    score, report = load_score_report(path)
    voices = []
    for v, name in enumerate(VOICE_NAMES):
        low_high = score.pitch_range(v)
        voices.append(
            {
                "name": name,
                "notes": len(score.notes(v)),
                "low": low_high[0] if low_high else None,
                "high": low_high[1] if low_high else None,
                "program": score.programs[v],
            }
        )
    num, den = score.time_signature
    from engine.music.analysis import estimate_key

    estimate = None if score.key else estimate_key(score)
    spelled_in = score.key or estimate
    for v in voices:
        for end in ("low", "high"):
            v[f"{end}_name"] = None if v[end] is None else note_name(v[end], spelled_in)
    return {
        "file": str(path),
        "read_as": report.source,
        "title": score.title,
        "time_signature": f"{num}/{den}",
        "pickup_steps": score.pickup,
        "tempo_bpm": score.tempo_bpm,
        "key": score.key,
        "key_estimate": estimate,
        "fermatas": _fermata_places(score),
        "bars": score.num_bars,
        "steps": score.num_steps,
        "voices": voices,
        "notes_read": report.notes_read,
        "notes_dropped": report.notes_dropped,
        "max_quantize_shift_steps": report.max_quantize_shift_steps,
        "changes": list(report.changes),
        "summary": report.summary(),
    }


def format_text(facts: dict) -> str:
    pickup = facts["pickup_steps"]
    lines = [
        f"file:      {facts['file']}",
        f"read as:   {facts['read_as']}",
        f"title:     {facts['title'] or '(none)'}",
        f"meter:     {facts['time_signature']}"
        + (f", pickup of {_sixteenths(pickup)}" if pickup else ", no pickup"),
        f"tempo:     {facts['tempo_bpm']:g} BPM",
        f"key:       {_key_text(facts)}",
        f"length:    {facts['bars']} bars ({facts['steps']} 16ths)",
        f"fermatas:  {_fermata_text(facts['fermatas'])}",
        "voices:",
    ]
    for v in facts["voices"]:
        if v["notes"]:
            span = f"{v['low_name']} ({v['low']}) .. {v['high_name']} ({v['high']})"
            count = f"{v['notes']:>4} note" + (" " if v["notes"] == 1 else "s")
            lines.append(f"  {v['name']:<8} {count}  {span}  program {v['program']}")
        else:
            lines.append(f"  {v['name']:<8}    - empty")
    if facts["changes"]:
        lines.append("changes:")
        lines += [f"  - {c}" for c in facts["changes"]]
    else:
        lines.append("changes:   none (read exactly)")
    return "\n".join(lines)


def _fermata_places(score) -> list[str] | None:
    """Where the file's fermatas (phrase ends) begin, as bar:beat; None when it marks none."""
    if score.fermatas is None:
        return None
    marks = score.fermatas
    starts = [i for i in range(marks.size) if marks[i] and (i == 0 or not marks[i - 1])]
    return [score.location_text(i) for i in starts]


def _fermata_text(places: list[str] | None) -> str:
    if places is None:
        return "(none marked)"
    return ", ".join(f"at {p}" for p in places) if places else "none"


def _key_text(facts: dict) -> str:
    if facts["key"]:
        return facts["key"]
    if facts["key_estimate"]:
        return f"{facts['key_estimate']} (not given; estimated from the melody; notes spelled in it)"
    return "(not given)"


def _sixteenths(steps: int) -> str:
    text = f"{steps} 16th" + ("" if steps == 1 else "s")
    if steps % 4 == 0:
        text += f" ({steps // 4} quarter{'' if steps == 4 else 's'})"
    elif steps % 2 == 0:
        text += f" ({steps // 2} eighth{'' if steps == 2 else 's'})"
    return text


def run_info(args) -> int:
    facts = describe(args.input)
    print(json.dumps(facts, indent=2) if args.json else format_text(facts))
    return 0
