"""Showing, auditioning, accepting and discarding the model's variants (editor screen mixin)."""

from __future__ import annotations

import numpy as np

from tui.widgets.variants import VariantsPanel


class VariantActions:
    variants_showing = False
    _variants: tuple = ()
    _variant_kind = ""
    _variant_region = None
    _history = None  # (kind, variants, region, mask) of the last variants shown: R shows them again

    def show_variants(self, kind: str, variants: list, region, mask=None, choose=False) -> None:
        """The panel of `variants` (best first); a single one is accepted at once unless
        `choose` (a run stopped early: the user decides)."""
        mask = getattr(self, "_run_mask", None) if mask is None else mask
        self._history = (kind, list(variants), region, None if mask is None else mask.copy())
        self._variants, self._variant_kind, self._variant_region = variants, kind, region
        if len(variants) == 1 and not choose:
            self._accept(0)
            return
        self.variants_showing = True
        self._preview_variant(0)
        self.mount(VariantsPanel(kind, variants, id="variants"))
        self.update_status()

    def _preview_variant(self, index: int) -> None:
        score = self._variants[index].score
        self.roll.preview = (score.pitches, score.onsets)
        self.roll.changed = None
        self.roll.invalidate()
        self._variant_index = index
        self.update_status()

    def _close_variants(self) -> None:
        self.variants_showing = False
        self._variants = []
        for panel in self.query(VariantsPanel):
            panel.remove()
        self.roll.preview = None
        self.roll.invalidate()
        self.roll.focus()
        self.update_status()

    def forget_variants(self) -> None:
        """Another document is open: the panel closes and `R` has nothing to show again."""
        if self.variants_showing:
            self._close_variants()
        self._history = None

    def _accept(self, index: int) -> None:
        variant = self._variants[index]
        self.stop_playback()
        if variant.score.pitches.shape == self.doc.score.pitches.shape:
            self.doc.accept(variant.score, self._variant_kind)
        else:
            self.doc.replace_score(variant.score, self._variant_kind)
        self.doc.clear_selection()
        self._close_variants()
        self.app.notify(f"Accepted variant {index + 1} (u undoes it).", timeout=2)
        self._edited()

    def action_variants_again(self) -> None:
        """The last variants again, while the region still holds one of them (the one accepted)."""
        if not self._editable():
            return
        if self._history is None:
            self.app.notify("No variants yet: ask the model first (i, r, A).", timeout=3)
            return
        kind, variants, region, mask = self._history
        current = self.doc.score
        if mask is None:  # a new score: the whole of it
            mask = np.ones(current.pitches.shape, dtype=bool)
        held = [v for v in variants if v.score.pitches.shape == current.pitches.shape
                and np.array_equal(v.score.pitches[mask], current.pitches[mask])]
        if not held or len(variants) < 2:
            self.app.notify("The region has changed since the last variants: ask the model again.",
                            timeout=4)
            return
        from engine.coconet.composer import Variant

        # Everything outside the region stays as it is now (edits made since are kept).
        again = [Variant(current.with_cells(mask, v.score.pitches), v.nll, v.seed) for v in variants]
        self.show_variants(kind, again, region, mask)

    def on_variants_panel_previewed(self, message: VariantsPanel.Previewed) -> None:
        if self.variants_showing and 0 <= message.index < len(self._variants):
            self._preview_variant(message.index)

    def on_variants_panel_accepted(self, message: VariantsPanel.Accepted) -> None:
        if self.variants_showing:
            self._accept(message.index)

    def on_variants_panel_discarded(self, message: VariantsPanel.Discarded) -> None:
        self.stop_playback()
        self._close_variants()
        self.app.notify("Variants discarded: the score is as it was.", timeout=2)

    def on_variants_panel_audition(self, message: VariantsPanel.Audition) -> None:
        if not self.variants_showing:
            return
        score = self._variants[message.index].score
        start, end = self._variant_region or (0, score.num_steps)
        context = score.steps_per_bar  # a bar before and after the region
        self.play_score(score, max(0, start - context), min(score.num_steps, end + context))
