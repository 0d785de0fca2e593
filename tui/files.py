"""Files from the editor: open, save, save as, export, quit, settings (editor screen mixin)."""

from __future__ import annotations

from pathlib import Path

from engine.errors import CantorError
from tui.screens.prompt import Choice, PathPrompt
from tui.screens.settings import SettingsScreen
from tui.settings import parse_programs
from tui.web.delivery import send_file, shown_path, user_path

MIDI_SUFFIXES = (".mid", ".midi")
XML_SUFFIXES = (".musicxml", ".xml", ".mxl")


class FileActions:
    # --- save ------------------------------------------------------------------------------

    def _variants_unsettled(self) -> bool:
        """Saving while variants are on show would write the score without them, while the grid
        shows one: say so and save nothing."""
        if not self.variants_showing:
            return False
        self.app.notify("Accept (enter) or discard (Esc) the variants first: the file would not"
                        " hold the variant on screen.", title="Not saved", timeout=4)
        return True

    def action_save(self) -> None:
        if self._variants_unsettled():
            return
        if self.doc.path is None or self.doc.path.suffix.lower() not in MIDI_SUFFIXES:
            self.action_save_as()
        else:
            self.save_to(self.doc.path)

    def action_save_as(self, then=None) -> None:
        if self._variants_unsettled():
            return
        path = self.doc.path
        if path is not None and path.suffix.lower() not in MIDI_SUFFIXES:
            path = path.with_suffix(".mid")  # an opened MusicXML file is saved as MIDI beside it
        default = shown_path(self.app, path) if path else "untitled.mid"

        def save(path: Path) -> None:
            if self.save_to(path) and then:
                then()

        def chosen(value: str | None) -> None:
            path = self.prompted_path(value)
            if not path:
                return
            if value.endswith(("/", "\\")) or _is_folder(path):
                self.app.notify(f"{value} is a folder: give the file a name in it, e.g."
                                f" {value.rstrip('/')}/song.mid", title="Not saved",
                                severity="warning", timeout=6)
                return
            path = _midi_name(path)
            if path.exists() and not (self.doc.path is not None and _same_file(path, self.doc.path)):
                self.app.push_screen(
                    Choice(f"{shown_path(self.app, path)} exists. Replace it?", {"r": "replace"}),
                    lambda key: key == "r" and save(path))
                return
            save(path)

        self.app.push_screen(PathPrompt("Save as MIDI", default), chosen)

    def save_to(self, path: Path) -> bool:
        from engine.music.midi import save_midi

        try:
            save_midi(self.doc.score, path)
        except CantorError as exc:
            self.app.notify(str(exc), title="Not saved", severity="error", timeout=8)
            return False
        self.doc.mark_saved(path)
        self.app.notify(f"Saved {shown_path(self.app, path)}", timeout=2)
        self.update_status()
        send_file(self.app, path)  # in a browser the user gets the file too
        return True

    def prompted_path(self, value: str | Path | None) -> Path | None:
        """A prompt's answer as a path, or None (told why) when `cantor serve` forbids it."""
        if not value:
            return None
        try:
            return user_path(self.app, str(value))
        except CantorError as exc:
            self.app.notify(str(exc), title="Not allowed", severity="error", timeout=8)
            return None

    # --- open ------------------------------------------------------------------------------

    def action_open(self) -> None:
        def chosen(value: str | None) -> None:
            path = self.prompted_path(value)
            if path:
                self.app.open_file(path)

        def ask() -> None:
            self.app.push_screen(PathPrompt("Open a MIDI file (or MusicXML)", ""), chosen)

        self.confirm_discard("open another file", ask)

    def confirm_discard(self, doing: str, then) -> None:
        """Run `then` now, or after the user saved or dropped unsaved changes."""
        if not self.doc.dirty:
            then()
            return

        def answered(key: str) -> None:
            if key == "s":
                if self.doc.path is not None and self.doc.path.suffix.lower() in MIDI_SUFFIXES:
                    if self.save_to(self.doc.path):
                        then()
                else:
                    self.action_save_as(then)
            elif key == "d":
                then()

        self.app.push_screen(
            Choice(
                f"There are unsaved changes. Save before you {doing}?",
                {"s": "save", "d": "don't save"},
            ),
            answered,
        )

    # --- export ----------------------------------------------------------------------------

    def action_export(self) -> None:
        stem = self.doc.path.stem if self.doc.path else "untitled"

        def chosen(value: str | None) -> None:
            path = self.prompted_path(value)
            if path:
                self.export_to(path)

        self.app.push_screen(
            PathPrompt(
                "Export (.wav, .musicxml or .mid)",
                f"{stem}.wav",
                "the extension chooses the format; enter: export   esc: cancel",
            ),
            chosen,
        )

    def export_to(self, path: Path) -> None:
        suffix = path.suffix.lower()
        if self.doc.path is not None and _same_file(path, self.doc.path):
            self.app.notify(
                f"{path.name} is the open document's own file: save it with ctrl+s,"
                " or export under another name.",
                title="Not exported",
                severity="warning",
                timeout=8,
            )
            return
        try:
            if suffix == ".wav":
                from engine.audio.playback import render_wav

                render_wav(
                    self.doc.score,
                    path,
                    soundfont=self.app.settings.soundfont or None,
                    mute=tuple(self.app.muted),
                    solo=tuple(self.app.soloed),
                )
            elif suffix in XML_SUFFIXES:
                from engine.music.musicxml import save_musicxml

                save_musicxml(self.doc.score, path)
            elif suffix in MIDI_SUFFIXES:
                from engine.music.midi import save_midi

                save_midi(self.doc.score, path)
            else:
                self.app.notify(
                    "Use a name ending in .wav, .musicxml or .mid.",
                    title="Unknown format",
                    severity="warning",
                )
                return
        except ImportError:
            self.app.notify("That export is not available in this build.", severity="warning")
            return
        except CantorError as exc:
            self.app.notify(str(exc), title="Not exported", severity="error", timeout=8)
            return
        self.app.notify(f"Exported {shown_path(self.app, path)}", timeout=3)
        send_file(self.app, path)  # in a browser the user gets the file too

    # --- quit ------------------------------------------------------------------------------

    def action_quit(self) -> None:
        def leave() -> None:
            if self.doc.dirty and self.doc.autosave:
                from tui.recovery import discard_recovery

                discard_recovery(self.doc.path)  # the user chose to drop the changes
            self.close_audio()
            self.disconnect_midi()
            self.app.exit()

        if self.doc.dirty:
            self.confirm_discard("quit", leave)
        elif self.variants_showing or self.busy:
            what = ("The variants on screen are not accepted" if self.variants_showing
                    else "The model is still writing variants")
            self.app.push_screen(Choice(f"Quit? {what}: they will be lost.", {"q": "quit"}),
                                 lambda key: key == "q" and leave())
        else:
            leave()

    # --- settings --------------------------------------------------------------------------

    def action_settings(self) -> None:
        s, score = self.app.settings, self.doc.score
        values = {
            "temperature": f"{s.temperature:g}",
            "steps": str(s.steps),
            "variants": str(s.variants),
            "seed": str(s.seed),
            "polish": str(s.polish),
            "repair": str(s.repair),
            "chords": s.chords,
            "model": "" if self.app.checkpoint else s.model,  # empty: the --checkpoint file
            "soundfont": s.soundfont,
            "sound_server": s.sound_server,
            "midi_input": s.midi_input,
            "midi_output": s.midi_output,
            "programs": " ".join(str(p) for p in score.programs),
            "tempo": f"{score.tempo_bpm:g}",
        }

        def applied(result: dict | None) -> None:
            if result is None:
                return
            if not result["model"].strip() and self.app.checkpoint:
                result = {k: v for k, v in result.items() if k != "model"}  # keep the file
            problems = s.update(result)
            try:
                programs = parse_programs(result["programs"])
                tempo = float(result["tempo"])
                if not 10 <= tempo <= 400:
                    raise ValueError("tempo must be in range 10..400 BPM")
            except ValueError as exc:
                problems.append(str(exc).replace("could not convert string to float", "tempo:"))
            if problems:
                self.app.notify("\n".join(problems), title="Settings not applied", severity="error")
                return
            if any(result[k] != values[k] for k in ("soundfont", "sound_server", "midi_output")):
                self.close_audio()
                self._audio_error = None
                self._audio_told = False
            if any(result[k] != values[k] for k in ("sound_server", "midi_output")):
                self.sound_route = None
                self.detect_sound()  # the status line says where sound goes now
            if result["midi_input"] != values["midi_input"]:
                self.connect_midi()
            if "model" in result and s.model != values["model"]:
                self.app.use_model(s.model)
                self.update_status()
            if programs != score.programs or tempo != score.tempo_bpm:
                self.doc.commit(score.replace(programs=programs, tempo_bpm=tempo), label="settings")
                self._edited()
            self.app.notify("Settings applied.", timeout=2)

        self.app.push_screen(SettingsScreen(values), applied)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _midi_name(path: Path) -> Path:
    return path if path.suffix.lower() in MIDI_SUFFIXES else path.with_name(path.name + ".mid")
