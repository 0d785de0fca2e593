"""Every key of the composer in one table: it makes the bindings, the help screen and the palette."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    keys: str  # Textual key names, comma separated
    action: str
    description: str
    group: str
    label: str = ""  # shown as "keys" in help; defaults to a prettified `keys`
    footer: bool = False


def _pretty(keys: str) -> str:
    names = {
        "left_square_bracket": "[",
        "right_square_bracket": "]",
        "left_curly_bracket": "{",
        "right_curly_bracket": "}",
        "plus": "+",
        "minus": "-",
        "equals_sign": "=",
        "full_stop": ".",
        "comma": ",",
        "question_mark": "?",
        "asterisk": "*",
        "less_than_sign": "<",
        "greater_than_sign": ">",
        "space": "space",
    }
    return " ".join(names.get(k, k) for k in keys.split(","))


MOVE, NOTES, SELECT, MODEL, PLAY, FILES, VIEW = (
    "Move",
    "Notes",
    "Select & edit",
    "Model",
    "Playback",
    "Files",
    "View",
)

KEYS: tuple[Key, ...] = (
    Key("left,h", "move(-1,0)", "one step (16th) earlier", MOVE),
    Key("right,l", "move(1,0)", "one step (16th) later", MOVE),
    Key("up,k", "move(0,1)", "a semitone up", MOVE),
    Key("down,j", "move(0,-1)", "a semitone down", MOVE),
    Key("pageup", "move(0,12)", "an octave up", MOVE),
    Key("pagedown", "move(0,-12)", "an octave down", MOVE),
    Key("left_square_bracket", "beats(-1)", "previous beat", MOVE),
    Key("right_square_bracket", "beats(1)", "next beat", MOVE),
    Key("left_curly_bracket,ctrl+left", "bars(-1)", "previous bar", MOVE),
    Key("right_curly_bracket,ctrl+right", "bars(1)", "next bar", MOVE),
    Key("home", "goto_start", "start of the score", MOVE),
    Key("end", "goto_end", "end of the score", MOVE),
    Key("tab", "cycle_voice(1)", "next voice (S A T B)", MOVE),
    Key("shift+tab", "cycle_voice(-1)", "previous voice", MOVE),
    Key("1", "voice(0)", "soprano", MOVE),
    Key("2", "voice(1)", "alto", MOVE),
    Key("3", "voice(2)", "tenor", MOVE),
    Key("4", "voice(3)", "bass", MOVE),
    Key(
        "c,d,e,f,g,a,b", "", "enter that note (nearest octave) and step on", NOTES, "c d e f g a b"
    ),
    Key("enter", "put_note", "enter a note at the cursor pitch and step on", NOTES),
    Key("backspace", "backspace", "remove the note before the cursor", NOTES),
    Key("x,delete", "delete", "delete the note (or erase the selection)", NOTES, footer=True),
    Key("plus,equals_sign", "resize(1)", "lengthen the note by a step", NOTES),
    Key("minus", "resize(-1)", "shorten the note by a step", NOTES),
    Key("H", "shift_note(-1)", "move the note a step earlier", NOTES),
    Key("L", "shift_note(1)", "move the note a step later", NOTES),
    Key("K", "transpose(1)", "note/selection a semitone up", NOTES),
    Key("J", "transpose(-1)", "note/selection a semitone down", NOTES),
    Key("greater_than_sign", "transpose(12)", "note/selection an octave up", NOTES),
    Key("less_than_sign", "transpose(-12)", "note/selection an octave down", NOTES),
    Key("5", "length(1)", "note length: 16th", NOTES),
    Key("6", "length(2)", "note length: 8th", NOTES),
    Key("7", "length(4)", "note length: quarter", NOTES),
    Key("8", "length(8)", "note length: half", NOTES),
    Key("9", "length(16)", "note length: whole", NOTES),
    Key("full_stop", "dotted", "dotted length on/off", NOTES),
    Key("F", "fermata", "fermata (phrase end) at the cursor on/off", NOTES),
    Key("T", "set_key", "key of the score (tonality): set it, or estimate it", NOTES),
    Key("M", "score_setup", "score set-up: title, meter, pickup, length", NOTES),
    Key("I", "insert_bar", "insert an empty bar before the cursor's bar", NOTES),
    Key("D", "delete_bar", "delete the cursor's bar", NOTES),
    Key("v", "visual", "select: start/stop (moves extend it)", SELECT, footer=True),
    Key("V", "visual_bars", "select whole bars, all voices", SELECT),
    Key("shift+left", "extend(-1,0)", "extend the selection a step earlier", SELECT),
    Key("shift+right", "extend(1,0)", "extend the selection a step later", SELECT),
    Key("shift+up", "extend(0,-1)", "extend the selection a voice up", SELECT),
    Key("shift+down", "extend(0,1)", "extend the selection a voice down", SELECT),
    Key("asterisk", "all_voices", "selection: all voices on/off", SELECT),
    Key("ctrl+a", "select_all", "select everything", SELECT),
    Key("escape", "escape", "clear the selection / stop generation (keeps finished variants)", SELECT),
    Key("y,ctrl+c", "copy", "copy the selection", SELECT),
    Key("p,ctrl+v", "paste", "paste at the cursor", SELECT),
    Key("u,ctrl+z", "undo", "undo", SELECT, footer=True),
    Key("U,ctrl+y", "redo", "redo", SELECT),
    Key(
        "i", "infill", "fill the erased cells (or the selection) with the model", MODEL, footer=True
    ),
    Key(
        "r",
        "harmonize",
        "keep the selected/current voice(s), regenerate the others",
        MODEL,
        footer=True,
    ),
    Key("G", "harmonize_voices", "harmonize around the voices you name (e.g. S,B: fill A and T)",
        MODEL),
    Key("ctrl+n", "compose", "compose a new score from scratch", MODEL),
    Key("A", "accompany", "accompany the current voice as melody", MODEL),
    Key("R", "variants_again", "the last variants again (while the region holds one of them)", MODEL),
    Key("t", "heatmap", "model confidence heatmap on/off", MODEL),
    Key("w", "findings", "counterpoint findings on/off", MODEL),
    Key("space", "play", "play/stop (the selection loops)", PLAY, footer=True),
    Key("m", "mute", "mute the current voice on/off", PLAY),
    Key("s", "solo", "solo the current voice on/off", PLAY),
    Key("ctrl+r", "record", "record from the MIDI keyboard into the current voice (again: keep)",
        PLAY),
    Key("W", "wav_to", "WAV of the variant (or score) into a folder, with an scp line", PLAY),
    Key("z", "zoom", "zoom: 1 or 2 columns per step", VIEW),
    Key("question_mark", "help", "this help", VIEW, footer=True),
    Key("comma", "settings", "settings (temperature, steps, variants, sound)", VIEW),
    Key("ctrl+p", "command_palette", "command palette (every action)", VIEW),
    Key("ctrl+s", "save", "save (MIDI)", FILES, footer=True),
    Key("S", "save_as", "save as", FILES),
    Key("ctrl+o", "open", "open a MIDI or MusicXML file", FILES),
    Key("ctrl+e", "export", "export WAV, MusicXML or MIDI (by extension)", FILES),
    Key("q,ctrl+q", "quit", "quit (asks when there are unsaved changes)", FILES, footer=True),
)

# Keys shown in help for the variants panel (it has its own bindings).
VARIANT_KEYS = (
    ("up down / tab", "previous / next variant"),
    ("enter", "accept the variant (one undo step)"),
    ("space", "audition it (with a bar of context)"),
    ("escape", "discard all variants"),
)


def bindings() -> list[Binding]:
    result = []
    for key in KEYS:
        if key.action == "":
            continue
        if key.action == "command_palette":
            continue  # the app's own binding
        label = SHORT.get(key.action, key.description)
        first, _, others = key.keys.partition(",")
        # Only the first key of a footer action is shown: every shown key is a widget to build.
        result.append(
            Binding(
                first,
                key.action,
                label,
                show=key.footer,
                key_display=_short(key) if key.footer else None,
            )
        )
        if others:
            result.append(Binding(others, key.action, label, show=False))
    for letter in "cdefgab":
        result.append(Binding(letter, f"note('{letter}')", f"enter {letter.upper()}", show=False))
    return result


SHORT = {
    "delete": "erase",
    "visual": "select",
    "undo": "undo",
    "infill": "infill",
    "harmonize": "harmonize",
    "play": "play",
    "help": "help",
    "save": "save",
    "quit": "quit",
}


def _short(key: Key) -> str:
    return _pretty(key.keys.split(",")[0])


def help_rows():
    """(group, keys, description) for the help screen."""
    for key in KEYS:
        yield key.group, key.label or _pretty(key.keys), key.description


def footer_text() -> str:
    """The main keys for the bottom line."""
    shown = [f"{_short(k)} {SHORT.get(k.action, k.description)}" for k in KEYS if k.footer]
    return "  ".join([*shown, "ctrl+p all actions"])
