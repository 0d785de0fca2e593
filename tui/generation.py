"""Asking the model from the editor: infill, harmonize, compose, accompany in a thread worker.

The worker never touches widgets: it posts `GenerationStep` messages (throttled) while the Gibbs
sampler rewrites its draft, then one `GenerationDone`. The document changes only when the user
accepts a variant, so a cancelled run leaves the score exactly as it was.
"""

from __future__ import annotations

import time

import numpy as np
from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from engine.errors import CantorError
from engine.music.score import VOICE_LETTERS, VOICE_NAMES, onsets_from_pitches, parse_voices
from tui.screens.prompt import PathPrompt

FRAME_SECONDS = 0.04  # at most ~25 animation frames a second: input stays responsive


class GenerationStep(Message):
    def __init__(self, run: int, progress) -> None:
        super().__init__()
        self.run, self.progress = run, progress


class GenerationDone(Message):
    def __init__(self, run: int, kind: str, result=None, error: str | None = None,
                 region=None) -> None:
        super().__init__()
        self.run, self.kind, self.result, self.error, self.region = run, kind, result, error, region


class VariantReady(Message):
    """A finished variant, sent before the run is done (the first one arrives well before the rest)."""

    def __init__(self, run: int, variant, count: int) -> None:
        super().__init__()
        self.run, self.variant, self.count = run, variant, count


class ConfidenceReady(Message):
    def __init__(self, version: int, confidence: np.ndarray | None, error: str | None = None):
        super().__init__()
        self.version, self.confidence, self.error = version, confidence, error


def _region(mask: np.ndarray) -> tuple[int, int]:
    cols = np.flatnonzero(mask.any(axis=0))
    return (int(cols[0]), int(cols[-1]) + 1) if cols.size else (0, mask.shape[1])


class GenerationActions:
    """Mixed into the editor screen."""

    busy = False
    variants_showing = False
    _run_started = 0.0
    first_variant = None  # the first finished variant, previewed while the others are written
    _arrived: tuple = ()  # the variants finished so far in this run (Esc offers them)
    # Every run has a number; messages of any other run (cancelled, or of a document closed since)
    # are late and dropped.
    _run_number = 0

    # --- starting a run --------------------------------------------------------------------

    def _options(self) -> dict:
        settings = self.app.settings
        seed = settings.next_seed()
        return {
            "variants": settings.variants,
            "steps": settings.steps,
            "temperature": settings.temperature,
            "seed": seed,
            "repair": settings.repair,
            "chords": settings.chords,
        }

    def _start(self, kind: str, mask: np.ndarray | None, keep=()) -> None:
        if not self._editable():
            return
        self.busy = True
        self._run_number += 1
        self._run_started = time.monotonic()
        self._run_kind = kind
        self._run_mask = mask
        self.first_variant = None
        self._arrived = ()
        self.update_status(progress=(0, self.app.settings.steps))
        self._generate(self._run_number, kind, self.doc.score, mask, tuple(keep), self._options())

    def action_infill(self) -> None:
        mask = self.doc.generation_mask()
        if not mask.any():
            self.app.notify(
                "Nothing to fill: select a region (v, move) and erase it (x), then i.",
                title="Infill",
                timeout=4,
            )
            return
        self._start("infill", mask)

    def action_harmonize(self) -> None:
        sel = self.doc.selection
        self._harmonize(sel.voices if sel is not None else (self.doc.voice,))

    def action_harmonize_voices(self) -> None:
        """Ask which voices to keep (any set, e.g. S,B to fill the alto and tenor), then harmonize."""
        if not self._editable():
            return
        sel = self.doc.selection
        current = sel.voices if sel is not None else (self.doc.voice,)

        def chosen(value: str | None) -> None:
            if value is None:
                return
            try:
                keep = parse_voices(value)
            except CantorError as exc:
                self.app.notify(str(exc), title="Nothing harmonized", severity="error", timeout=8)
                return
            self._harmonize(keep)

        self.app.push_screen(
            PathPrompt("Harmonize: voices to keep", ",".join(VOICE_LETTERS[v] for v in current),
                       "letters from S, A, T, B (S,B fills the alto and tenor)   esc: cancel"),
            chosen,
        )

    def _harmonize(self, keep: tuple[int, ...]) -> None:
        if len(keep) == 4:
            self.app.notify("Keep fewer than four voices to harmonize.", timeout=3)
            return
        mask = np.ones(self.doc.score.pitches.shape, dtype=bool)
        mask[list(keep)] = False
        names = ", ".join(VOICE_NAMES[v].lower() for v in keep)
        self.app.notify(f"Harmonizing around the {names}.", timeout=2)
        self._start("harmonize", mask, keep)

    def action_compose(self) -> None:
        self._start("compose", None)

    def action_accompany(self) -> None:
        try:
            import engine.accompany.predict  # noqa: F401
        except ImportError:
            self.app.notify("Accompaniment is not available in this build.", severity="warning")
            return
        mask = np.ones(self.doc.score.pitches.shape, dtype=bool)
        mask[self.doc.voice] = False
        self._start("accompany", mask, (self.doc.voice,))

    def cancel_generation(self) -> None:
        """Stop the run. Variants already finished are offered to choose from (the score is
        unchanged until one is accepted); with none, nothing is left of the run."""
        kept = sorted(self._arrived, key=lambda v: (v.nll, v.seed))
        self.drop_run()
        if kept:
            self.app.notify(f"Stopped: {len(kept)} finished variant(s) to choose from;"
                            " the others were not written.", timeout=3)
            region = _region(self._run_mask) if self._run_mask is not None else None
            self.show_variants(self._run_kind, kept, region, choose=True)
            return
        self.app.notify("Cancelled: the score is as it was.", timeout=2)
        self.update_status()

    def drop_run(self) -> None:
        """Stop the run and forget it: nothing of it is shown or offered (its late messages are
        dropped too)."""
        self.app.workers.cancel_group(self, "generate")
        self._run_number += 1
        self.first_variant = None
        self._arrived = ()
        self._clear_preview()
        self.busy = False

    def _current(self, message) -> bool:
        """True for a message of the run in progress (not of a cancelled or forgotten one)."""
        return self.busy and message.run == self._run_number

    # --- the worker (a thread) ---------------------------------------------------------------

    @work(thread=True, exclusive=True, group="generate", exit_on_error=False)
    def _generate(self, run: int, kind: str, score, mask, keep, options: dict) -> None:
        worker = get_current_worker()
        last = [0.0]

        def progress(p) -> None:
            now = time.monotonic()
            if now - last[0] >= FRAME_SECONDS or p.step >= p.total:
                last[0] = now
                self.post_message(GenerationStep(run, p))

        region = _region(mask) if mask is not None else None
        try:
            composer = self.app.wait_for_composer()
            options.update(progress=progress, cancel=lambda: worker.is_cancelled)
            if kind != "accompany":
                # The live heatmap needs the model's probabilities at every step.
                options["want_confidence"] = self.heat_on
                count = options["variants"]
                options["on_variant"] = lambda v: self.post_message(VariantReady(run, v, count))
            if kind == "infill":
                result = composer.infill(score, mask, **options)
            elif kind == "harmonize":
                result = composer.harmonize(score, keep=keep, **options)
            elif kind == "compose":
                if options["chords"] == "melody":  # nothing is kept: no melody to follow
                    options["chords"] = "free"
                # The score's meter, pickup and key (if it has one; else one drawn by the seed).
                pickup = score.pickup if score.pickup < score.steps_per_bar else 0
                result = composer.compose(bars=8, time_signature=score.time_signature,
                                          pickup=pickup, key=score.key or None, **options)
            else:
                from engine.accompany.predict import accompany

                result = accompany(
                    score,
                    keep[0],
                    variants=options["variants"],
                    polish=self.app.settings.polish,
                    repair=self.app.settings.repair,
                    seed=options["seed"],
                    checkpoint=self.app.accompany_checkpoint,
                    composer=composer,
                    progress=progress,
                    cancel=options["cancel"],
                )
        except CantorError as exc:
            self.post_message(GenerationDone(run, kind, error=str(exc), region=region))
            return
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the editor (or the work)
            self.post_message(
                GenerationDone(run, kind, error=f"{type(exc).__name__}: {exc}", region=region)
            )
            return
        if worker.is_cancelled:
            return
        self.post_message(GenerationDone(run, kind, result=result, region=region))

    # --- messages back on the UI thread ------------------------------------------------------

    def on_variant_ready(self, message: VariantReady) -> None:
        if not self._current(message):
            return
        self._arrived = (*self._arrived, message.variant)
        if self.first_variant is not None or message.count < 2:
            return
        self.first_variant = message.variant
        score = message.variant.score
        self.roll.preview = (score.pitches, score.onsets)
        self.roll.changed = None
        self.roll.confidence = None
        self.roll.invalidate()
        more = message.count - 1
        self.app.notify(f"First variant ready; {more} more coming (Esc: stop and choose).",
                        timeout=3)

    def on_generation_step(self, message: GenerationStep) -> None:
        if not self._current(message):
            return  # a late frame of a cancelled run
        p = message.progress
        if self.first_variant is not None:  # the grid keeps showing the first variant
            self.update_status(progress=(p.step, p.total))
            return
        best = int(np.argmin(p.scores)) if len(p.scores) else 0
        pitches = p.pitches[best]
        if pitches.shape != self.doc.score.pitches.shape:  # compose: a new length
            onsets = onsets_from_pitches(pitches)
        else:
            # Kept cells keep their onsets; generated ones are merged like the model's output.
            mask = self._run_mask if self._run_mask is not None else np.ones(pitches.shape, bool)
            onsets = np.where(mask, onsets_from_pitches(pitches), self.doc.score.onsets)
        self.roll.preview = (pitches, onsets)
        self.roll.changed = p.changed[best]
        self.roll.confidence = (
            p.confidence[best] if p.confidence is not None and self.heat_on else None
        )
        self.roll.invalidate()
        self.update_status(progress=(p.step, p.total))

    def on_generation_done(self, message: GenerationDone) -> None:
        if not self._current(message):
            return
        self.busy = False
        self.first_variant = None
        self._arrived = ()
        self._clear_preview()
        if message.error:
            self.app.notify(
                message.error,
                title=f"{message.kind.capitalize()} failed",
                severity="error",
                timeout=8,
            )
            self.update_status()
            return
        result = message.result
        if result is None or result.cancelled or not result.variants:
            self.update_status()
            return
        for text in result.messages:
            self.app.notify(text, timeout=5)
        seconds = time.monotonic() - self._run_started
        self.app.notify(
            f"{message.kind.capitalize()}: {len(result.variants)} variant(s) in {seconds:.1f} s.",
            timeout=3,
        )
        self.show_variants(message.kind, result.variants, message.region)

    def _clear_preview(self) -> None:
        self.roll.preview = None
        self.roll.changed = None
        self.roll.confidence = self.confidence_map if self.heat_on else None
        self.roll.invalidate()

    # --- confidence heatmap ------------------------------------------------------------------

    heat_on = False
    confidence_map = None

    def action_heatmap(self) -> None:
        self.heat_on = not self.heat_on
        if self.heat_on:
            self.app.notify("Heatmap: digits 0-9 = the model's confidence in each note.", timeout=3)
            self._refresh_confidence()
        else:
            self.roll.confidence = None
            self.roll.invalidate()
        self.update_status()

    def _refresh_confidence(self) -> None:
        self.roll.confidence = None
        self._confidence(self.doc.version, self.doc.score)

    @work(thread=True, exclusive=True, group="confidence", exit_on_error=False)
    def _confidence(self, version: int, score) -> None:
        try:
            conf = self.app.wait_for_composer().confidence(score)
        except Exception as exc:  # noqa: BLE001 - reported, never fatal
            self.post_message(ConfidenceReady(version, None, str(exc)))
            return
        self.post_message(ConfidenceReady(version, conf))

    def on_confidence_ready(self, message: ConfidenceReady) -> None:
        if message.error:
            self.heat_on = False
            self.app.notify(message.error, title="Heatmap unavailable", severity="warning")
            self.update_status()
            return
        if message.version == self.doc.version and self.heat_on:
            self.confidence_map = message.confidence
            if self.roll.preview is None:
                self.roll.confidence = message.confidence
                self.roll.invalidate()
