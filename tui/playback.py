"""Playback from the editor through engine.audio.playback.Player, with a moving playhead, where
the sound goes (status bar), and a WAV written for fetching home with scp (screen mixin)."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.message import Message

from engine.errors import CantorError
from tui.screens.prompt import PathPrompt
from tui.web.delivery import in_browser, send_file, shown_path
from tui.widgets.pianoroll import GUTTER


class PlayerReady(Message):
    def __init__(self, player=None, error: str | None = None, request=None) -> None:
        super().__init__()
        self.player, self.error, self.request = player, error, request


class SoundRouteFound(Message):
    def __init__(self, route) -> None:
        super().__init__()
        self.route = route


class WavWritten(Message):
    def __init__(self, path: Path | None, fetch: str = "", error: str = "") -> None:
        super().__init__()
        self.path, self.fetch, self.error = path, fetch, error


class PlaybackActions:
    _player = None
    _audio_error: str | None = None
    _audio_told = False
    _playing = False
    _playhead_timer = None
    _request = None  # (score, start, end, loop) of the current playback
    sound_route = None  # engine.audio.sink.SoundRoute once known
    _wav_folder: str | None = None

    # --- where sound goes: found in a thread after the first frame ---------------------------

    def detect_sound(self) -> None:
        if in_browser(self.app):  # the page plays the sound: the server's devices do not matter
            from engine.audio.sink import SoundRoute

            self.sound_route = SoundRoute("browser", "sound: in the browser")
            self.update_status()
            return
        self._detect_sound(self._sound_server_setting())

    def _sound_server_setting(self) -> str:
        return getattr(self.app.settings, "sound_server", "") or ""

    def _forwarded_server(self) -> str | None:
        from engine.audio.sink import configured_server

        return configured_server(self._sound_server_setting())

    @work(thread=True, exclusive=True, group="sound-route", exit_on_error=False)
    def _detect_sound(self, setting: str) -> None:
        from engine.audio.sink import SoundRoute, detect_route

        midi_output = getattr(self.app.settings, "midi_output", "")
        try:
            if midi_output:  # a MIDI port plays instead of FluidSynth
                from engine.audio.midi_ports import find_port

                route = SoundRoute("midi", f"sound: MIDI {find_port(midi_output, 'output')[1]}")
            else:
                route = detect_route(setting)
        except CantorError as exc:
            route = SoundRoute("none", "no sound: no MIDI output", detail=str(exc))
        except Exception as exc:  # noqa: BLE001 - no sound is never fatal
            route = SoundRoute("none", "no sound", detail=f"{type(exc).__name__}: {exc}")
        self.post_message(SoundRouteFound(route))
        if route.playable and self._player is None:
            self._new_player(None)  # ready before the first space: it then sounds at once

    def on_sound_route_found(self, message: SoundRouteFound) -> None:
        self.sound_route = message.route
        self.update_status()

    def sound_text(self) -> str:
        """The status bar's word on where sound goes ("" until it is known)."""
        return "" if self.sound_route is None else self.sound_route.text

    def action_play(self) -> None:
        if self._playing:
            self.stop_playback()
            return
        score = self.doc.score
        sel = self.doc.selection
        if sel is not None:
            self.play_score(score, sel.start, sel.end, loop=True)
        else:
            self.play_score(score, self.doc.step, None)

    def action_mute(self) -> None:
        self._toggle_voice(self.app.muted)

    def action_solo(self) -> None:
        self._toggle_voice(self.app.soloed)

    def _toggle_voice(self, voices: set) -> None:
        v = self.doc.voice
        voices.symmetric_difference_update({v})
        self.roll.muted = set(self.app.muted) | (
            {u for u in range(4) if u not in self.app.soloed} if self.app.soloed else set()
        )
        self.roll.invalidate()
        self.update_status()
        if self._playing and self._player is not None and self._request is not None:
            self._replay_from_playhead()

    def _replay_from_playhead(self) -> None:
        """Mute/solo changed while playing: go on from the step being heard, with the new mix."""
        score, start, end, loop = self._request
        here = self._player.position()
        if not loop and here is not None:
            start = here
        self._start_playing((score, start, end, loop))

    def play_score(self, score, start: int, end: int | None, loop: bool = False) -> None:
        """Play part of a score; the player is made (in a thread) on first use."""
        if getattr(self.app, "is_web", False):  # under `cantor serve` the browser plays it
            from tui.web.delivery import toggle_browser_playback

            toggle_browser_playback(self, score, start, end, loop)
            return
        request = (score, start, end, loop)
        if self._audio_error and not self._forwarded_server():  # a tunnel may come back
            self._tell_no_audio()
            return
        if self._player is None:
            self._make_player(request)
            return
        self._start_playing(request)

    @work(thread=True, exclusive=True, group="audio", exit_on_error=False)
    def _make_player(self, request) -> None:
        self._new_player(request)

    def _new_player(self, request) -> None:
        """Make a Player (in a worker thread) and post it, or why there is none."""
        try:
            midi_output = getattr(self.app.settings, "midi_output", "")
            if midi_output:
                from engine.audio.midi_ports import MidiPlayer

                player = MidiPlayer(midi_output)
            else:
                from engine.audio.playback import Player

                soundfont = self.app.settings.soundfont or None
                player = Player(soundfont, server=self._sound_server_setting() or None)
            self.post_message(PlayerReady(player, request=request))
        except CantorError as exc:
            self.post_message(PlayerReady(error=str(exc), request=request))
        except Exception as exc:  # noqa: BLE001 - no sound is never fatal
            self.post_message(PlayerReady(error=f"{type(exc).__name__}: {exc}", request=request))

    def on_player_ready(self, message: PlayerReady) -> None:
        server = self._forwarded_server()
        if message.request is None:  # made ahead of time, after the sound route was found
            if message.error:
                self._set_route_none("no sound", message.error)
            elif self._player is None:
                self._player = message.player
            else:  # space was quicker and made its own
                message.player.close()
            return
        if message.error:
            self._audio_error = message.error
            if server:  # say it each time: the user is waiting for the tunnel
                self._set_route_none(f"no sound: {server} not answering", message.error)
                self.app.notify(
                    f"{message.error}\nOr write a WAV to fetch with scp: W.",
                    title="No sound", severity="warning", timeout=10,
                )
                return
            self._tell_no_audio()
            return
        if self._player is not None and self._player is not message.player:
            self._player.close()  # one made ahead of time arrived first
        self._player = message.player
        self._audio_error = None
        if server and (self.sound_route is None or self.sound_route.kind != "pulse"):
            self.detect_sound()  # reached again: name it in the status bar
        self._start_playing(message.request)

    def _set_route_none(self, text: str, detail: str) -> None:
        from engine.audio.sink import SoundRoute

        self.sound_route = SoundRoute("none", text, self._forwarded_server(), detail)
        self.update_status()

    def _tell_no_audio(self) -> None:
        if self._audio_told:
            self.app.notify("No sound here: write a WAV with W (or ctrl+e).", timeout=2)
            return
        self._audio_told = True
        self.app.notify(
            f"{self._audio_error}\nWrite a WAV to fetch with scp: W (or export one: ctrl+e).",
            title="No audio",
            severity="warning",
            timeout=10,
        )

    def _start_playing(self, request) -> None:
        score, start, end, loop = request
        self._request = request
        try:
            self._player.play(
                score,
                start,
                end,
                loop=loop,
                mute=tuple(self.app.muted),
                solo=tuple(self.app.soloed),
            )
        except CantorError as exc:
            self._audio_error = str(exc)
            self._tell_no_audio()
            return
        self._playing = True
        if self._playhead_timer is None:
            self._playhead_timer = self.set_interval(1 / 20, self._follow_playhead)
        self.update_status()

    def _follow_playhead(self) -> None:
        player = self._player
        if player is None or not player.is_playing:
            failure = None if player is None else player.failure
            self.stop_playback()
            if failure:
                self._sound_broke(failure)
            return
        position = player.position()
        if position is not None and position != self.roll.playhead:  # None: not started yet
            self.roll.playhead = position
            self._keep_in_view(position)
            self.roll.refresh()

    def _keep_in_view(self, step: int) -> None:
        """Turn the page when the playhead leaves the visible steps."""
        roll = self.roll
        width = max(1, roll.size.width - GUTTER)
        column, left = step * roll.zoom, roll.scroll_offset.x
        if not left <= column < left + width:
            roll.scroll_to(x=max(0, column - 2 * roll.zoom), animate=False, immediate=True)

    def stop_playback(self) -> None:
        if self._player is not None:
            try:
                self._player.stop()
            except CantorError:
                pass
        self._playing = False
        if self._playhead_timer is not None:
            self._playhead_timer.stop()
            self._playhead_timer = None
        if self.roll.playhead is not None:
            self.roll.playhead = None
            self.roll.refresh()
        self.update_status()

    def _sound_broke(self, failure: str) -> None:
        """The sound path broke mid-play: say so once; the next play connects afresh."""
        self.close_audio()
        self._set_route_none("no sound: connection lost", failure)
        self.app.notify(
            f"{failure}.\nYour edits are safe. Press space to play again once the tunnel is back;"
            " W writes a WAV to fetch with scp.",
            title="Sound stopped",
            severity="error",
            timeout=15,
        )

    # --- a WAV for fetching home (nothing needed on the user's machine but scp) --------------

    def action_wav_to(self) -> None:
        """Write the variant shown (or the score) as a WAV into a folder; show the scp command."""
        score, name = self._score_to_hear()
        # Under `cantor serve` names are taken inside the shared folder (and checked to stay there).
        default = self._wav_folder or ("." if getattr(self.app, "root", None) else str(Path.cwd()))

        def chosen(value: str | None) -> None:
            folder = self.prompted_path(value)
            if folder is not None:
                self._wav_folder = value
                self._write_wav(score, folder / name)

        self.app.push_screen(
            PathPrompt(
                f"Write {name} into the folder",
                default,
                "a folder (made if missing); enter: write   esc: cancel",
            ),
            chosen,
        )

    def _score_to_hear(self):
        """The score being auditioned (the variant shown, else the document) and a file name."""
        stem = self.doc.path.stem if self.doc.path else "untitled"
        if getattr(self, "variants_showing", False):
            index = getattr(self, "_variant_index", 0)
            variant = self._variants[index]
            return variant.score, f"{stem}-{self._variant_kind}-variant{index + 1}.wav"
        return self.doc.score, f"{stem}.wav"

    @work(thread=True, exclusive=True, group="wav", exit_on_error=False)
    def _write_wav(self, score, path: Path) -> None:
        from engine.audio.playback import WavFileError, render_wav
        from engine.audio.sink import fetch_command

        try:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise WavFileError(
                    f"cannot make the folder {path.parent} ({exc.strerror}): name another one"
                ) from None
            render_wav(score, path, soundfont=self.app.settings.soundfont or None,
                       mute=tuple(self.app.muted), solo=tuple(self.app.soloed))
            self.post_message(WavWritten(path, fetch_command(path)))
        except CantorError as exc:
            self.post_message(WavWritten(None, error=str(exc)))

    def on_wav_written(self, message: WavWritten) -> None:
        if message.error:
            self.app.notify(message.error, title="No WAV written", severity="error", timeout=10)
            return
        if in_browser(self.app):  # the browser downloads it: no scp needed
            self.app.notify(f"Wrote {shown_path(self.app, message.path)}", timeout=3)
            send_file(self.app, message.path)
            return
        self.app.copy_to_clipboard(message.fetch)  # OSC 52: reaches the user's terminal over SSH
        self.app.notify(
            f"Fetch it on your machine with (copied):\n{message.fetch}",
            title=f"Wrote {message.path}",
            timeout=30,
        )

    def close_audio(self) -> None:
        self.stop_playback()
        if self._player is not None:
            try:
                self._player.close()
            except Exception:  # noqa: BLE001, S110 - closing on exit must not raise
                pass
            self._player = None
