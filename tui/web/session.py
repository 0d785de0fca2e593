"""One browser session of `cantor serve`: the app process it drives, and file downloads from it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncGenerator
from pathlib import Path

from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

log = logging.getLogger("cantor.serve")

PROJECT = Path(__file__).resolve().parents[2]
DRIVER = "tui.web.driver:CantorWebDriver"
CHUNK_SIZE = 64 * 1024
# The app answers chunk requests from its input thread; a loaded machine can still take seconds.
CHUNK_TIMEOUT = 30.0
QUIT_GRACE = 5.0  # seconds an app gets to quit by itself before it is terminated
TERM_GRACE = 2.0  # then seconds between SIGTERM and SIGKILL


class Downloads(DownloadManager):
    """textual-serve's DownloadManager without its failure on a late chunk.

    Upstream, a chunk that does not come within 4 s is treated as the end of the file, and the
    queue's task_done() is then called for an item never taken (`ValueError: task_done() called
    too many times`): the download request dies and the session's entry is left behind.
    """

    async def download(self, delivery_key: str) -> AsyncGenerator[bytes, None]:
        download = self._active_downloads.get(delivery_key)
        if download is None:
            return
        try:
            while True:
                sent = await download.app_service.send_meta(
                    {
                        "type": "deliver_chunk_request",
                        "key": delivery_key,
                        "size": CHUNK_SIZE,
                        "name": download.name,
                    }
                )
                if not sent:
                    log.warning("download %s: the app is gone", delivery_key)
                    return
                try:
                    chunk = await asyncio.wait_for(download.incoming_chunks.get(), CHUNK_TIMEOUT)
                except TimeoutError:
                    log.warning("download %s: no chunk in %s s", delivery_key, CHUNK_TIMEOUT)
                    return
                if not chunk:  # the end of the file, or the session closed
                    return
                yield chunk
        finally:
            self._active_downloads.pop(delivery_key, None)

    async def get_download_metadata(self, delivery_key: str):
        return self._active_downloads[delivery_key]

    def forget_app(self, app_service_id: str) -> None:
        """Drop every download of a finished session (its chunks will never come)."""
        for key, download in list(self._active_downloads.items()):
            if download.app_service.app_service_id == app_service_id:
                download.incoming_chunks.put_nowait(None)
                self._active_downloads.pop(key, None)


class Session(AppService):
    """AppService that runs the app without a shell, in the root folder, and always reaps it.

    Upstream starts the app through `sh -c` (killing the shell can leave the app running) and,
    when the browser goes, only asks it to quit and waits forever; an app blocked writing to a
    pipe nobody reads never answers. Here the app has its own process group, and a session that
    ends is given QUIT_GRACE seconds before SIGTERM, then SIGKILL.
    """

    def __init__(self, argv: list[str], *, root: Path, **kwargs) -> None:
        super().__init__(" ".join(argv), **kwargs)
        self.argv = argv
        self.root = root
        self._stopped = False

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width, height)
        environment["TEXTUAL_DRIVER"] = DRIVER
        path = environment.get("PYTHONPATH")
        environment["PYTHONPATH"] = f"{PROJECT}{os.pathsep}{path}" if path else str(PROJECT)
        return environment

    async def _open_app_process(self, width: int = 80, height: int = 24):
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width, height),
            cwd=self.root,
            start_new_session=True,  # its own process group: SIGKILL reaches all it started
        )
        self._stdin = self._process.stdin
        return self._process

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def on_data(self, payload: bytes) -> None:
        try:
            await super().on_data(payload)
        except (ConnectionError, RuntimeError):
            pass  # the browser is gone: keep draining the app's output so it can quit

    async def on_meta(self, data: bytes) -> None:
        try:
            await super().on_meta(data)
        except (ConnectionError, RuntimeError):
            pass

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            # The output ended or broke: nothing reads the app any more, so it must not live on.
            await self._reap(QUIT_GRACE)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._download_manager.forget_app(self.app_service_id)
        if self._process is None:
            return
        await self.send_meta({"type": "quit"})
        await self._reap(QUIT_GRACE)
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, TERM_GRACE)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None

    async def _reap(self, grace: float) -> None:
        """Wait `grace` seconds for the app to end, then terminate and kill its process group."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        for sig, wait in ((None, grace), (signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, None)):
            if sig is not None:
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    pass
            try:
                await asyncio.wait_for(process.wait(), wait)
                return
            except TimeoutError:
                continue

    def kill_now(self) -> None:
        """At server shutdown: end the app's process group at once."""
        if self._process is not None and self._process.returncode is None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
