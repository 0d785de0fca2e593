"""Textual's web driver with whole, serialized writes and an exit when the server goes away."""

from __future__ import annotations

import os
import threading

from textual import messages
from textual.drivers.web_driver import WebDriver

# A server that vanished without closing our stdin cleanly still gets this long to let us exit.
EXIT_GRACE_SECONDS = 10.0


class CantorWebDriver(WebDriver):
    """WebDriver whose packets never interleave.

    Textual's WebDriver writes screen updates from the app's thread and file chunks from its input
    thread, each with a bare os.write on the same pipe. A pipe write over PIPE_BUF bytes (a 64 KB
    chunk of a WAV) is not atomic, so a screen update can land inside a chunk packet and the server
    reads garbage lengths from then on: the page freezes and the download times out. Here every
    packet is written whole (os.write may write less than asked) under one lock.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._write_lock = threading.Lock()
        self._write = self._write_whole

    def _write_whole(self, data: bytes) -> None:
        view = memoryview(data)
        with self._write_lock:
            while view:
                view = view[os.write(self.fileno, view) :]

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if self.exit_event.is_set():
            return  # a normal exit: the app stopped the driver
        # stdin reached its end: the server is gone, so nobody will ever see this session again.
        # The timer first: a main thread stuck in a write would never act on the message.
        timer = threading.Timer(EXIT_GRACE_SECONDS, os._exit, (0,))
        timer.daemon = True
        timer.start()
        self._app.post_message(messages.ExitApp())  # thread-safe
