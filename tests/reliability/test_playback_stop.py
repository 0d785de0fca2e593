"""Stopping playback never cancels PortAudio's thread (the Ctrl-C hang of `cantor play --loop`)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from .conftest import ROOT

SCRIPT = textwrap.dedent("""
    import json, threading, time
    import numpy as np
    from engine.audio.playback import Player
    from engine.music.score import Score
    score = Score(np.array([[72] * 16, [64] * 16, [57] * 16, [48] * 16]))
    busy = True
    def hog():  # keeps the GIL contended, as a loaded machine does
        while busy:
            pass
    threading.Thread(target=hog, daemon=True).start()
    aborts = 0
    started = time.perf_counter()
    with Player("soundfonts/cantor-tiny.sf2") as player:
        for i in range(int(__import__("sys").argv[1])):
            player.play(score, loop=True)
            stream = player._output._stream
            real_abort = stream.abort
            def counted(*args, _real=real_abort, **kwargs):
                global aborts
                aborts += 1  # abort = pthread_cancel of a thread that may hold Python state
                return _real(*args, **kwargs)
            stream.abort = counted
            time.sleep(0.02 + 0.003 * (i % 5))
            player.stop()
    busy = False
    print(json.dumps({"aborts": aborts, "seconds": time.perf_counter() - started}))
""")


def test_stop_joins_the_audio_thread_without_abort(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text("pcm.!default { type null }\n")
    try:
        import sounddevice  # noqa: F401
    except OSError:
        pytest.skip("PortAudio is not installed")
    result = subprocess.run(  # noqa: PLW1510 (checked below)
        [sys.executable, "-c", SCRIPT, "40"], cwd=ROOT, capture_output=True, text=True,
        timeout=120, env={"HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["aborts"] == 0
