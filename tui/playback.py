"""Playback from the editor through engine.audio.playback.Player, with a moving playhead (screen mixin)."""

from __future__ import annotations

from textual import work
from textual.message import Message

from engine.errors import CantorError


class PlayerReady(Message):
    def __init__(self, player=None, error: str | None = None, request=None) -> None:
        super().__init__()
        self.player, self.error, self.request = player, error, request


class PlaybackActions:
    _player = None
    _audio_error: str | None = None
    _audio_told = False
    _playing = False
    _playhead_timer = None

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

    def play_score(self, score, start: int, end: int | None, loop: bool = False) -> None:
        """Play part of a score; the player is made (in a thread) on first use."""
        request = (score, start, end, loop)
        if self._audio_error:
            self._tell_no_audio()
            return
        if self._player is None:
            self._make_player(request)
            return
        self._start_playing(request)

    @work(thread=True, exclusive=True, group="audio", exit_on_error=False)
    def _make_player(self, request) -> None:
        try:
            from engine.audio.playback import Player

            soundfont = self.app.settings.soundfont or None
            self.post_message(PlayerReady(Player(soundfont), request=request))
        except CantorError as exc:
            self.post_message(PlayerReady(error=str(exc), request=request))
        except Exception as exc:  # noqa: BLE001 - no sound is never fatal
            self.post_message(PlayerReady(error=f"{type(exc).__name__}: {exc}", request=request))

    def on_player_ready(self, message: PlayerReady) -> None:
        if message.error:
            self._audio_error = message.error
            self._tell_no_audio()
            return
        self._player = message.player
        self._start_playing(message.request)

    def _tell_no_audio(self) -> None:
        if self._audio_told:
            self.app.notify("No sound here: export a WAV with ctrl+e.", timeout=2)
            return
        self._audio_told = True
        self.app.notify(
            f"{self._audio_error}\nExport a WAV instead: ctrl+e, name ending in .wav.",
            title="No audio",
            severity="warning",
            timeout=10,
        )

    def _start_playing(self, request) -> None:
        score, start, end, loop = request
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
            self.stop_playback()
            return
        position = player.position()
        if position is not None and position != self.roll.playhead:  # None: not started yet
            self.roll.playhead = position
            self.roll.refresh()

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

    def close_audio(self) -> None:
        self.stop_playback()
        if self._player is not None:
            try:
                self._player.close()
            except Exception:  # noqa: BLE001, S110 - closing on exit must not raise
                pass
            self._player = None
