"""`cantor serve` against real clients: token, Origin, session cap, downloads, no orphaned apps."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is `pid`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] != "Z":
                    found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class Served:
    """`cantor serve` in a subprocess; remembers every app process it started."""

    def __init__(self, folder: Path, *args: str) -> None:
        self.port = free_port()
        self.folder = folder
        env = dict(os.environ, XDG_STATE_HOME=str(folder / ".state"))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(self.port), "--root",
             str(folder), *args],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )
        banner = [self.process.stderr.readline().decode() for _ in range(2)]
        self.url = banner[1].strip()
        assert self.url.startswith(f"http://127.0.0.1:{self.port}/?token="), banner
        self.token = self.url.split("token=", 1)[1]
        # Keep reading the server's log: a full stderr pipe would block the server itself.
        self.log: list[bytes] = []
        threading.Thread(target=lambda: self.log.extend(self.process.stderr), daemon=True).start()
        self.base = f"http://127.0.0.1:{self.port}"
        self.apps: set[int] = set()
        assert wait_for(self._answers, 30), "the server did not answer"

    def _answers(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def app_pids(self) -> set[int]:
        now = children(self.process.pid)
        self.apps |= now
        return now

    def stop(self) -> None:
        self.app_pids()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        for pid in self.apps:  # none may outlive the server
            assert wait_for(lambda pid=pid: not alive(pid), 15), f"app {pid} left behind"


@pytest.fixture
def served(tmp_path):
    started = []

    def start(*args: str) -> Served:
        server = Served(tmp_path, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


async def first_screen(ws, seconds: float = 90) -> bytes:
    """Terminal bytes of the app's first frames (the app loads in its own process)."""
    data = b""
    end = time.monotonic() + seconds
    while len(data) < 2000 and time.monotonic() < end:
        message = await ws.receive(timeout=end - time.monotonic())
        if message.type == aiohttp.WSMsgType.BINARY:
            data += message.data
        elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            break
    return data


def is_composer(data: bytes) -> bool:
    """The app's web driver started (alternate screen) and drew a screenful."""
    return data.startswith(b"\x1b[?1049h") and len(data) >= 2000


def test_port_out_of_range_is_a_usage_error():
    for port in ("99999", "-1", "0", "http"):
        result = subprocess.run(
            [sys.executable, "-m", "cli", "serve", "--port", port],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        # The wording around the message is the CLI's usage-error format; ours is the reason.
        assert f"--port: must be a whole number in range 1..65535, not '{port}'" in result.stderr


def test_a_port_in_use_is_reported_before_the_banner(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "cli", "serve", "--port", str(port), "--root", str(tmp_path)],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )
    assert result.returncode == 1
    assert result.stderr == f"cantor: error: cannot listen on 127.0.0.1:{port}: the port is in use\n"


def test_a_missing_root_is_refused(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cli", "serve", "--root", str(tmp_path / "nope")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1 and "no such folder" in result.stderr
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    result = subprocess.run(
        [sys.executable, "-m", "cli", "serve", "--root", str(a_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1 and result.stderr.endswith(f"--root {a_file}: not a folder\n")


def test_an_ipv6_host_may_be_given_in_brackets(tmp_path):
    """`--host [::1]` as the printed address writes it; an unknown host stays a one-line error."""
    import socket as sockets

    if not sockets.has_ipv6:
        pytest.skip("no IPv6 here")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--host", "[::1]", "--port", str(port),
         "--root", str(tmp_path)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stderr.readline()
        if "cannot listen" in first or "--host" in first:
            pytest.skip(f"no IPv6 loopback here: {first.strip()}")
        assert process.stderr.readline().strip().startswith(f"http://[::1]:{port}/?token=")
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_page_and_websocket_require_the_token(served):
    server = served()
    async with aiohttp.ClientSession() as http:
        for path in ("/", "/?token=wrong", f"/?token={server.token}x"):
            async with http.get(server.base + path) as response:
                assert response.status == 403
                assert "token" in await response.text()
        for path in ("/ws", "/ws/wrong", "/download/anything"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(server.base + path)
            assert refused.value.status == 403
        async with http.get(server.url) as response:
            assert response.status == 200
            page = await response.text()
            assert f"/ws/{server.token}" in page and 'id="cantor-player"' in page
            assert response.cookies[f"cantor_token_{server.port}"].value == server.token
            assert response.headers["Referrer-Policy"] == "no-referrer"
    assert not server.app_pids()  # no refused request started an app


async def test_two_servers_in_one_browser_keep_their_own_cookies(served):
    """Cookies ignore the port: each server names its cookie for its port, so opening the second
    server's page does not take the first one's downloads away (403)."""
    first, second = served(), served()
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1, as a browser keeps them
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        for server in (first, second):
            async with http.get(server.url) as response:
                assert response.status == 200
        for server in (first, second):  # the cookie alone lets a download URL through
            async with http.get(server.base + "/download/none-such") as response:
                assert response.status == 404, server.port
    async with aiohttp.ClientSession() as http, http.get(first.base + "/download/none-such") as r:
        assert r.status == 403  # and without the cookie it is refused


async def test_foreign_origins_and_host_names_are_refused(served):
    server = served()
    ws_url = f"{server.base}/ws/{server.token}"
    async with aiohttp.ClientSession() as http:
        for origin in ("http://evil.example", "null", f"http://127.0.0.1:{server.port + 1}"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(ws_url, headers={"Origin": origin})
            assert refused.value.status == 403
        # DNS rebinding: a foreign name pointed at 127.0.0.1 is refused even with the token.
        async with http.get(server.url, headers={"Host": f"evil.example:{server.port}"}) as r:
            assert r.status == 403
        assert not server.app_pids()
        # The page's own origin is accepted and the composer answers.
        async with http.ws_connect(ws_url, headers={"Origin": server.base}) as ws:
            assert is_composer(await first_screen(ws))
            assert len(server.app_pids()) == 1


async def test_the_session_cap_holds_and_a_closed_tab_frees_its_process(served):
    server = served("--max-sessions", "1")
    ws_url = f"{server.base}/ws/{server.token}"
    async with aiohttp.ClientSession() as http:
        first = await http.ws_connect(ws_url)
        assert is_composer(await first_screen(first))
        (app,) = server.app_pids()
        second = await http.ws_connect(ws_url)  # told in its terminal, and it waits
        message = await second.receive(timeout=30)
        assert message.type == aiohttp.WSMsgType.BINARY and b"--max-sessions" in message.data
        await asyncio.sleep(1.0)
        assert server.app_pids() == {app} and not second.closed
        await first.close()  # the waiting tab gets the freed slot, on a cleared screen
        screen = await first_screen(second)
        assert screen.startswith(b"\x1b[2J\x1b[H") and is_composer(screen[7:])
        assert await asyncio.to_thread(wait_for, lambda: not alive(app), 20), "app left behind"
        assert len(server.app_pids()) == 1
        third = await http.ws_connect(ws_url)  # a tab that leaves while it waits starts nothing
        await third.close()
        await asyncio.sleep(1.0)
        assert len(server.app_pids()) == 1
        await second.close()


async def test_a_reloaded_tab_gets_its_own_slot_back(served):
    """A reload closes the old websocket and opens a new one at once: with every slot in use, the
    new one takes the old one's slot instead of being refused."""
    server = served("--max-sessions", "1")
    ws_url = f"{server.base}/ws/{server.token}"
    async with aiohttp.ClientSession() as http:
        first = await http.ws_connect(ws_url)
        assert is_composer(await first_screen(first))
        await first.close()
        again = await http.ws_connect(ws_url)
        screen = await first_screen(again)
        assert is_composer(screen) and b"--max-sessions" not in screen
        await again.close()


async def test_a_dropped_browser_leaves_no_process(served):
    server = served()
    ws_url = f"{server.base}/ws/{server.token}"
    http = aiohttp.ClientSession()
    ws = await http.ws_connect(ws_url)
    assert is_composer(await first_screen(ws))
    (app,) = server.app_pids()
    # Drop the connection without a closing handshake, as a crashed browser does.
    ws._response.connection.transport.abort()
    await http.close()
    assert await asyncio.to_thread(wait_for, lambda: not alive(app), 25), "app left behind"


async def test_ten_wav_downloads_arrive_whole_while_the_screen_changes(served, tmp_path):
    """The download path that used to corrupt one WAV in five: chunks interleaved with frames."""
    server = served()
    # unsafe: keep cookies of an IP-address host (127.0.0.1), as a browser does
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(server.url) as response:
            assert response.status == 200  # sets the cookie the downloads need
        ws = await http.ws_connect(f"{server.base}/ws/{server.token}")
        assert is_composer(await first_screen(ws))
        for round_ in range(10):
            name = f"take{round_}.wav"
            # Keys one message each, as the page sends them: ctrl+e, ctrl+u (clear), name, enter.
            for keys in ("\x05", "\x15", name, "\r"):
                await ws.send_str(json.dumps(["stdin", keys]))
                await asyncio.sleep(0.5)
            key = None
            end = time.monotonic() + 60
            while key is None and time.monotonic() < end:
                message = await ws.receive(timeout=end - time.monotonic())
                if message.type == aiohttp.WSMsgType.TEXT:
                    kind, value = json.loads(message.data)
                    key = value if kind == "deliver_file_start" else None
                assert message.type != aiohttp.WSMsgType.CLOSE
            assert key, f"round {round_}: no delivery"

            async def keep_the_screen_busy() -> None:
                for step in range(40):  # cursor moves redraw the grid during the download
                    await ws.send_str(json.dumps(["stdin", "\x1b[C" if step % 2 else "\x1b[D"]))
                    await asyncio.sleep(0.01)

            busy = asyncio.create_task(keep_the_screen_busy())
            async with http.get(f"{server.base}/download/{key}") as download:
                assert download.status == 200
                assert "attachment" in download.headers["Content-Disposition"]
                body = await download.read()
            await busy
            assert body == (tmp_path / name).read_bytes(), f"round {round_}: corrupted"
            assert body[:4] == b"RIFF" and len(body) > 200_000
        await ws.close()


async def test_ctrl_c_stops_the_server_promptly_with_a_tab_open(served):
    """Ctrl-C with a tab open: the tab's app is ended and its websocket closed at once, so the
    server does not wait for the browser to go (it took 20 s)."""
    server = served()
    ws_url = f"{server.base}/ws/{server.token}"
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(ws_url)
        assert is_composer(await first_screen(ws))
        (app,) = server.app_pids()
        began = time.monotonic()
        server.process.send_signal(signal.SIGINT)
        await asyncio.to_thread(server.process.wait, 60)
        took = time.monotonic() - began
        assert took < 8, f"the server took {took:.1f} s to stop"
        assert await asyncio.to_thread(wait_for, lambda: not alive(app), 10)
        for _ in range(1000):  # the last frames, then the close
            message = await ws.receive(timeout=10)
            if message.type != aiohttp.WSMsgType.BINARY:
                break
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
