"""TUI latency figures for `cantor bench`: frame render time and cold start to the first frame."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

FRAME_SIZE = (120, 40)
ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter: import the app, open the default chorale headless, and report
# the moment the first frame has been drawn.
_CHILD = """
import sys, time
from tui.app import CantorApp

class Timed(CantorApp):
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(self._first_frame)

    def _first_frame(self):
        print("FIRST_FRAME", time.time(), flush=True)
        self.exit()

Timed(autosave=False).run(headless=True, size=(120, 40))
"""


def _eight_bars():
    from tui.default_score import default_score

    score = default_score()
    return score.slice(0, min(score.num_steps, score.pickup + 8 * score.steps_per_bar))


async def _frames(repeats: int) -> list[float]:
    from tui.app import CantorApp

    app = CantorApp(score=_eight_bars(), load_model=False, autosave=False)
    times = []
    async with app.run_test(size=FRAME_SIZE) as pilot:
        await pilot.pause()
        roll, doc = app.editor.roll, app.editor.doc
        doc.goto(40)
        for i in range(repeats):
            # A keypress that edits: the note changes, every cached row is dropped and redrawn.
            start = time.perf_counter()
            doc.transpose(1 if i % 2 == 0 else -1)
            roll.invalidate()
            roll.scroll_to_cursor()
            for y in range(roll.size.height):
                roll.render_line(y)
            times.append((time.perf_counter() - start) * 1000)
    return times


def cold_start_ms() -> float:
    start = time.time()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    for line in out.stdout.splitlines():
        if line.startswith("FIRST_FRAME"):
            return (float(line.split()[1]) - start) * 1000
    raise RuntimeError(f"the composer did not draw a frame: {out.stderr.strip()[-300:]}")


def measure(repeats: int) -> dict:
    repeats = max(1, int(repeats))
    frames = asyncio.run(_frames(max(5, repeats)))
    starts = [cold_start_ms() for _ in range(max(1, min(repeats, 5)))]
    return {
        "tui_frame_ms": round(statistics.median(frames), 3),
        "tui_cold_start_ms": round(statistics.median(starts), 1),
    }


async def _key_latency(presses: int) -> dict:
    """Milliseconds from a key event to its action, idle and while the model harmonizes 8 bars."""
    from textual import events

    from tui.app import CantorApp
    from tui.settings import Settings

    app = CantorApp(score=_eight_bars(), autosave=False, settings=Settings(steps=10_000))
    async with app.run_test(size=FRAME_SIZE) as pilot:
        editor = app.editor
        done: list[float] = []
        move = editor.action_move

        def timed_move(steps: int, semitones: int) -> None:
            move(steps, semitones)
            done.append(time.perf_counter())

        editor.action_move = timed_move

        async def press_all() -> list[float]:
            waits = []
            for i in range(presses):
                count, start = len(done), time.perf_counter()
                event = events.Key("h" if i % 2 else "l", None)
                event.set_sender(app)
                app._driver.send_message(event)
                while len(done) == count and time.perf_counter() - start < 5:
                    await asyncio.sleep(0.0005)
                waits.append((done[-1] - start) * 1000 if len(done) > count else 5000.0)
                await asyncio.sleep(0.03)
            return waits

        await asyncio.to_thread(app.wait_for_composer)  # the shipped model, loaded
        idle = await press_all()
        await pilot.press("r")
        await asyncio.sleep(0.5)
        busy = await press_all()
        running = editor.busy
        await pilot.press("escape")
    return {
        "key_idle_median_ms": round(statistics.median(idle), 2),
        "key_idle_max_ms": round(max(idle), 2),
        "key_generating_median_ms": round(statistics.median(busy), 2),
        "key_generating_max_ms": round(max(busy), 2),
        "model_still_running": running,
    }


if __name__ == "__main__":
    if "--keys" in sys.argv:
        print(asyncio.run(_key_latency(40)))
    else:
        print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
