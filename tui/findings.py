"""Counterpoint findings in the grid and in a list (editor screen mixin)."""

from __future__ import annotations

import numpy as np

from engine.music.score import VOICE_LETTERS
from tui.widgets.findings import FindingsPanel


def finding_entries(score) -> tuple[list[tuple[int, int | None, str]], np.ndarray]:
    """(step, voice, text) per finding of engine.music.counterpoint, and a (4, T) mask of their cells."""
    from engine.music.counterpoint import check_score

    report = check_score(score)
    findings = getattr(report, "findings", report)
    mask = np.zeros(score.pitches.shape, dtype=bool)
    entries = []
    for f in findings:
        step = int(getattr(f, "step", 0))
        voices = tuple(int(v) for v in (getattr(f, "voices", ()) or ()))
        kind = str(getattr(f, "kind", "finding")).replace("_", " ")
        previous = getattr(f, "previous", None)
        for v in voices:
            if 0 <= v < 4 and 0 <= step < score.num_steps:
                mask[v, step] = True
                if previous is not None and 0 <= previous < score.num_steps:
                    mask[v, previous] = True  # a parallel is a motion: show where it comes from
        letters = "-".join(VOICE_LETTERS[v] for v in voices if 0 <= v < 4)
        entries.append(
            (
                step,
                voices[0] if voices else None,
                f"{score.location_text(step):>6} {kind} {letters}",
            )
        )
    return entries, mask


class FindingActions:
    findings_on = False

    def action_findings(self) -> None:
        self.findings_on = not self.findings_on
        if self.findings_on:
            if not self._refresh_findings():
                self.findings_on = False
                return
            self.mount(FindingsPanel(id="findings"))
            self.call_after_refresh(self._refresh_findings)
        else:
            for panel in self.query(FindingsPanel):
                panel.remove()
            self.roll.findings = None
            self.roll.invalidate()
        self.update_status()

    def _refresh_findings(self) -> bool:
        try:
            entries, mask = finding_entries(self.doc.score)
        except ImportError:
            self.app.notify(
                "Counterpoint checks are not available in this build.", severity="warning"
            )
            return False
        self.roll.findings = mask
        self.roll.invalidate()
        for panel in self.query(FindingsPanel):
            panel.show(entries)
        return True

    def on_findings_panel_jump(self, message: FindingsPanel.Jump) -> None:
        if message.voice is not None:
            self.doc.set_voice(message.voice)
        self.doc.goto(message.step)
        self.doc.pitch = self.doc._pitch_near(self.doc.voice, message.step)
        self.roll.focus()
        self._moved()
