"""`cantor serve`'s web server: textual-serve with a token, an Origin check and a session cap."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import secrets
import shlex
import signal
import socket
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import WSCloseCode, WSMsgType, web
from textual_serve.server import Server

from engine.errors import CantorError
from tui.web.session import Downloads, Session

TEMPLATES = Path(__file__).parent / "templates"
COOKIE = "cantor_token"  # + "_PORT": browsers share cookies across ports, servers must not
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
SLOT_GRACE = 3.0  # seconds a tab waits for a slot before it is told that all are in use
SLOT_POLL = 0.2
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the page's URL holds the token
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "frame-ancestors 'none'",
}


class ServeError(CantorError):
    """The web server cannot start as asked."""


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def content_disposition(kind: str, name: str) -> str:
    """RFC 6266 header: an ASCII fallback plus the exact UTF-8 name."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class CantorServer(Server):
    """Serves the composer, one app process per browser tab, to those who hold the token."""

    def __init__(
        self,
        argv: list[str],
        *,
        host: str,
        port: int,
        root: Path,
        max_sessions: int,
        token: str | None = None,
    ) -> None:
        super().__init__(shlex.join(argv), host=host, port=port, title="cantor",
                         templates_path=TEMPLATES)
        self.argv, self.root, self.max_sessions = argv, root, max_sessions
        self.token = token or secrets.token_urlsafe(24)
        self.download_manager = Downloads()
        self.sessions: set[Session] = set()
        self.websockets: set[web.WebSocketResponse] = set()
        self.loopback_only = is_loopback(host)
        self._socket: socket.socket | None = None

    @property
    def cookie(self) -> str:
        """The token's cookie, named for the port: two servers on one host (one browser) would
        otherwise overwrite each other's, and the first one's downloads would be refused."""
        return f"{COOKIE}_{self.port}"

    # --- address ---------------------------------------------------------------------------

    def bind(self) -> socket.socket:
        """Take the port now, so a port in use is reported before anything is printed."""
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM
            )[0]
        except socket.gaierror as exc:
            raise ServeError(f"--host {self.host}: {exc.strerror}") from exc
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
            sock.listen(128)
        except OSError as exc:
            sock.close()
            reason = "the port is in use" if exc.errno == 98 else exc.strerror
            raise ServeError(f"cannot listen on {self.host}:{self.port}: {reason}") from exc
        self.port = sock.getsockname()[1]  # --port 0 lets the system choose
        self._socket = sock
        return sock

    @property
    def url(self) -> str:
        """The address to open, token included."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/?token={self.token}"

    # --- checks ----------------------------------------------------------------------------

    def _token_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def _host_ok(self, request: web.Request) -> bool:
        # On a loopback address only loopback names are served: a foreign site's name that was
        # made to resolve to 127.0.0.1 (DNS rebinding) is turned away before the token matters.
        if not self.loopback_only:
            return True
        return is_loopback(urlsplit(f"//{request.host}").hostname or "")

    @staticmethod
    def _origin_ok(request: web.Request) -> bool:
        """Browsers always send Origin on a websocket; it must be this server's own."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: the token alone decides
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower()

    def _refuse(self, request: web.Request, token: str | None) -> None:
        if not self._host_ok(request):
            raise web.HTTPForbidden(text="cantor: this server answers to localhost only\n")
        if not self._token_ok(token):
            raise web.HTTPForbidden(
                text="cantor: open the address with the token that `cantor serve` printed\n"
            )

    # --- routes ----------------------------------------------------------------------------

    async def _make_app(self) -> web.Application:
        app = web.Application()
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES))
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws/{token}", self.handle_websocket, name="websocket"),
                web.get("/ws", self.handle_websocket),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        app.on_shutdown.append(self.on_shutdown)
        return app

    async def handle_index(self, request: web.Request) -> web.Response:
        token = request.query.get("token") or request.cookies.get(self.cookie)
        self._refuse(request, token)
        scheme = "wss" if request.secure else "ws"
        try:
            font_size = min(max(int(request.query.get("fontsize", "16")), 6), 48)
        except ValueError:
            font_size = 16
        context = {
            "font_size": font_size,
            "app_websocket_url": f"{scheme}://{request.host}/ws/{self.token}",
            "static_url": "/static/",
            "title": self.title,
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        response.headers.update(SECURITY_HEADERS)
        # Downloads are opened by URL without the token; the cookie lets them through.
        response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        self._refuse(request, request.match_info.get("token"))
        if not self._origin_ok(request):
            raise web.HTTPForbidden(text="cantor: connections from other sites are refused\n")
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        self.websockets.add(websocket)
        try:
            return await self._run_session(request, websocket)
        finally:
            self.websockets.discard(websocket)

    async def _run_session(self, request: web.Request,
                           websocket: web.WebSocketResponse) -> web.WebSocketResponse:
        if not await self._wait_for_slot(websocket):
            return websocket
        width = _int(request.query.get("width"), 80, 10, 1000)
        height = _int(request.query.get("height"), 24, 5, 500)
        session = Session(
            self.argv,
            root=self.root,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
        )
        self.sessions.add(session)  # no await since the count: the cap cannot be raced past
        try:
            await session.start(width, height)
            await self._process_messages(websocket, session)
        except (asyncio.CancelledError, ConnectionError):
            pass
        except Exception:
            logging.getLogger("cantor.serve").exception("session failed")
        finally:
            # Its slot is free as soon as its tab has gone (a reloaded tab gets it at once); the
            # app process is still reaped here.
            self.sessions.discard(session)
            await asyncio.shield(session.stop())
            if not websocket.closed:
                await websocket.close()
        return websocket

    async def _wait_for_slot(self, websocket: web.WebSocketResponse) -> bool:
        """Wait until fewer than --max-sessions sessions run; False if the tab left meanwhile.

        A tab that finds all sessions in use is told so in its terminal after SLOT_GRACE seconds
        (a reload frees its own slot within them), and starts as soon as a slot is free."""
        waited, told = 0.0, False
        while len(self.sessions) >= self.max_sessions:
            if not told and waited >= SLOT_GRACE:
                told = True
                await websocket.send_bytes(
                    f"cantor: this server allows {self.max_sessions} session(s) at once"
                    " (--max-sessions) and all are in use. This tab starts as soon as one"
                    " is closed.\r\n".encode())
            try:
                message = await websocket.receive(timeout=SLOT_POLL)
            except TimeoutError:
                waited += SLOT_POLL
                continue
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                WSMsgType.ERROR):
                return False  # input typed while waiting is dropped
        if told:
            await websocket.send_bytes(b"\x1b[2J\x1b[H")  # the app draws on a clear screen
        return True

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        self._refuse(request, request.cookies.get(self.cookie) or request.query.get("token"))
        key = request.match_info["key"]
        try:
            meta = await self.download_manager.get_download_metadata(key)
        except KeyError:
            raise web.HTTPNotFound(text="cantor: that download is over or unknown\n") from None
        kind = "inline" if meta.open_method == "browser" else "attachment"
        content_type = meta.mime_type or "application/octet-stream"
        if meta.encoding:
            content_type += f"; charset={meta.encoding}"
        response = web.StreamResponse(headers=SECURITY_HEADERS)
        response.headers["Content-Type"] = content_type
        response.headers["Content-Disposition"] = content_disposition(kind, meta.file_name)
        await response.prepare(request)
        chunks = self.download_manager.download(key)
        try:
            async for chunk in chunks:
                await response.write(chunk)
        finally:
            await chunks.aclose()  # a browser that went away ends the download here
        await response.write_eof()
        return response

    async def on_shutdown(self, app: web.Application) -> None:
        for session in list(self.sessions):
            session.kill_now()
        # Open tabs would hold the server's exit until their websockets time out: close them.
        for websocket in list(self.websockets):
            with contextlib.suppress(Exception):
                await websocket.close(code=WSCloseCode.GOING_AWAY, message=b"server stopped")

    # --- run -------------------------------------------------------------------------------

    def serve(self, debug: bool = False) -> None:
        logging.basicConfig(level=logging.WARNING, format="cantor serve: %(message)s",
                            stream=sys.stderr)
        sock = self._socket or self.bind()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(self._make_app(), sock=sock, handle_signals=False, loop=loop,
                    print=lambda *args: None, access_log=None)


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(value), low), high) if value is not None else default
    except ValueError:
        return default
