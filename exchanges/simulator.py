"""A stand-in for France Travail's exchange server, over real HTTPS.

It implements the contract of docs/formats (last section, "The exchange
server") and nothing more, so that the client, the Celery tasks, the
end-to-end tests and the demo (`make run`) talk to a real server instead of
mocks:

- `GET  /<DEP>/PECGM/`        HTML index, one `<a href="NAME">` per file;
- `GET  /<DEP>/PECGM/<NAME>`  the file;
- `PUT  /<DEP>/CGPEM/<NAME>`  deposit: 201 created, 409 if the name exists;
- HTTP Basic: 401 without or with wrong credentials, 403 for another
  département's folder;
- retention: a monthly file is deleted one month after it arrived, a daily
  or weekly one after ten days (age from the file's mtime, against an
  injectable clock so that tests can move time).

Files live under `ROOT/<DEP>/PECGM/` and `ROOT/<DEP>/CGPEM/`, DEP on three
characters (`082`). Tests drop PECGM files there directly.

`ExchangeServer(root, users).start()` runs it in a thread on 127.0.0.1 (port
0 by default) with a throw-away CA made by trustme; `base_url` and `ca_path`
are what a client needs. `manage.py exchange_server` runs the same class in
the foreground.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import gzip
import hmac
import html
import logging
import os
import re
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from contract.departement import departement_on_three
from contract.file_names import FILE_NAME

logger = logging.getLogger(__name__)

# Folder names and file names the contract allows. Anything else is a 404
# (or a 400 for a deposit), which also rules out traversal ("..", "%2F").
_PATH = re.compile(r"^/(?P<dep>[0-9]{2}[0-9AB])/(?P<folder>PECGM|CGPEM)/(?P<name>[^/]*)\Z")

DEFAULT_MAX_UPLOAD = 200 * 1024 * 1024
_DISCARD_LIMIT = 1024 * 1024
DAILY_RETENTION = timedelta(days=10)
_REALM = 'Basic realm="echanges", charset="UTF-8"'


def add_one_month(moment: datetime) -> datetime:
    """The same day next month, clamped to the month's end (31 Jan → 28/29 Feb)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def is_expired(name: str, arrived: datetime, now: datetime) -> bool:
    """The retention rule: monthly files live one month, daily (and weekly) ones ten days."""
    match = FILE_NAME.match(name)
    if not match:
        return False
    if match["period"] == "M":
        return now >= add_one_month(arrived)
    return now - arrived >= DAILY_RETENTION


@dataclass
class Hostile:
    """Misbehaviours a test switches on (all off: the contract's server).

    `charset`: the index page's declared charset (`rot13`); `gzip`: files sent
    gzip-encoded whatever the client accepts; `trickle_seconds`: files sent one
    byte at a time, this long apart (just inside the client's timeout).
    """

    charset: str = ""
    gzip: bool = False
    trickle_seconds: float = 0.0


@dataclass(frozen=True)
class ServerUser:
    departement: str  # three characters
    username: str
    password: str

    @classmethod
    def parse(cls, spec: str) -> ServerUser:
        """`DEPT:USERNAME:PASSWORD` (the password may itself hold colons)."""
        parts = spec.split(":", 2)
        if len(parts) != 3 or not all(parts):
            raise ValueError("expected DEPT:USERNAME:PASSWORD")
        dep = departement_on_three(parts[0])
        if not re.fullmatch(r"[0-9]{2}[0-9AB]", dep):
            raise ValueError(f"not a département code: {parts[0]!r}")
        return cls(dep, parts[1], parts[2])


class _Handler(BaseHTTPRequestHandler):
    server: _TLSServer
    protocol_version = "HTTP/1.1"
    server_version = "EchangesSimulateur/1.0"
    sys_version = ""

    # --- plumbing -------------------------------------------------------

    def parse_request(self) -> bool:
        self._body_read = False  # one handler serves every request of a kept-alive connection
        return super().parse_request()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        # The request line and status only: never the Authorization header.
        if not self.server.exchange.quiet:
            logger.info("%s %s", self.address_string(), format % args)

    def _send(
        self, status: int, body: bytes = b"", content_type: str = "text/plain; charset=utf-8", headers=None
    ):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: HTTPStatus, headers=None) -> None:
        if not self._discard_body():
            self.close_connection = True
        self._send(status, f"{status.value} {status.phrase}\n".encode(), headers=headers)

    def _discard_body(self) -> bool:
        """Read an unwanted request body, so that the client sees our answer.

        Closing with unread bytes makes the kernel reset the connection and the
        client may lose the answer; a large body is not worth reading, though.
        """
        if self._body_read:
            return True
        length = self.headers.get("Content-Length", "0")
        if self.headers.get("Transfer-Encoding") or not length.isdigit() or int(length) > _DISCARD_LIMIT:
            return False
        self.rfile.read(int(length))
        self._body_read = True
        return True

    def _user(self) -> ServerUser | None:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        username, sep, password = decoded.partition(":")
        if not sep:
            return None
        user = self.server.exchange.users.get(username)
        # Compare against a dummy for unknown users so that timing does not
        # tell which user names exist.
        expected = user.password if user else "\0unknown-user\0"
        if hmac.compare_digest(password.encode(), expected.encode()) and user:
            return user
        return None

    def _route(self) -> tuple[str, str, str] | None:
        """(département folder, PECGM|CGPEM, name) after auth, or None when an answer was sent."""
        exchange = self.server.exchange
        fault = exchange.next_fault()
        if fault:
            self._error(HTTPStatus(fault))
            return None
        user = self._user()
        if user is None:
            self._error(HTTPStatus.UNAUTHORIZED, {"WWW-Authenticate": _REALM})
            return None
        raw_path = urlsplit(self.path).path
        if exchange.base_path:
            if not raw_path.startswith(exchange.base_path + "/"):
                self._error(HTTPStatus.NOT_FOUND)
                return None
            raw_path = raw_path[len(exchange.base_path) :]
        path = unquote(raw_path)
        match = _PATH.match(path)
        if not match or "\\" in path or "\0" in path:
            self._error(HTTPStatus.NOT_FOUND)
            return None
        if match["dep"] != user.departement:
            self._error(HTTPStatus.FORBIDDEN)
            return None
        name = match["name"]
        if name and not FILE_NAME.match(name):
            self._error(HTTPStatus.NOT_FOUND if self.command == "GET" else HTTPStatus.BAD_REQUEST)
            return None
        exchange.purge()
        return match["dep"], match["folder"], name

    # --- methods --------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        route = self._route()
        if route is None:
            return
        dep, folder, name = route
        if folder != "PECGM":
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": "PUT"})
            return
        directory = self.server.exchange.folder(dep, folder)
        hostile = self.server.exchange.hostile
        if not name:
            charset = hostile.charset or "utf-8"
            self._send(HTTPStatus.OK, _index_page(dep, directory), f"text/html; charset={charset}")
            return
        path = directory / name
        if not path.is_file():
            self._error(HTTPStatus.NOT_FOUND)
            return
        if hostile.gzip or hostile.trickle_seconds:
            self._send_hostile(path, hostile)
            return
        size = path.stat().st_size
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with path.open("rb") as source:
            while chunk := source.read(64 * 1024):
                self.wfile.write(chunk)

    def _send_hostile(self, path: Path, hostile: Hostile) -> None:
        """What a broken or malicious server does: gzip whatever the client asked, or trickle."""
        body = path.read_bytes()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/xml")
        if hostile.gzip:
            body = gzip.compress(body)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not hostile.trickle_seconds:
            self.wfile.write(body)
            return
        for position in range(len(body)):
            self.wfile.write(body[position : position + 1])
            self.wfile.flush()
            time.sleep(hostile.trickle_seconds)

    def do_PUT(self) -> None:  # noqa: N802 (stdlib naming)
        route = self._route()
        if route is None:
            return
        dep, folder, name = route
        if folder != "CGPEM" or not name:
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": "GET"})
            return
        if not name.startswith("CGPEM_" + dep + "_"):
            self._error(HTTPStatus.BAD_REQUEST)
            return
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length is None or not length.isdigit():
            self._error(HTTPStatus.LENGTH_REQUIRED)
            return
        length = int(length)
        if length > self.server.exchange.max_upload:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        directory = self.server.exchange.folder(dep, folder)
        target = directory / name
        if target.exists():
            self._error(HTTPStatus.CONFLICT)
            return
        # Write beside the target, then link: creation is atomic and two
        # concurrent deposits of one name cannot both win.
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                remaining = length
                while remaining:
                    chunk = self.rfile.read(min(remaining, 64 * 1024))
                    if not chunk:
                        raise ConnectionError("body shorter than Content-Length")
                    out.write(chunk)
                    remaining -= len(chunk)
            self._body_read = True
            try:
                os.link(temp, target)
            except FileExistsError:
                self._error(HTTPStatus.CONFLICT)
                return
        except ConnectionError:
            self.close_connection = True
            return
        finally:
            os.unlink(temp)
        os.utime(target, (self.server.exchange.now().timestamp(),) * 2)
        self._send(HTTPStatus.CREATED, b"201 Created\n")

    def do_POST(self) -> None:  # noqa: N802 (stdlib naming)
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": "GET, PUT"})

    do_DELETE = do_POST  # noqa: N815


def _index_page(dep: str, directory: Path) -> bytes:
    names = sorted(p.name for p in directory.iterdir() if p.is_file() and FILE_NAME.match(p.name))
    links = "\n".join(f'<li><a href="{html.escape(n)}">{html.escape(n)}</a></li>' for n in names)
    title = f"Index of /{dep}/PECGM/"
    page = f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n<body><h1>{title}</h1>\n"
    page += f'<ul>\n<li><a href="../">../</a></li>\n{links}\n</ul>\n</body></html>\n'
    return page.encode()


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    exchange: ExchangeServer

    def finish_request(self, request, client_address) -> None:
        # The TLS handshake happens here, in the request's own thread, so
        # that a slow or broken client cannot block the accept loop.
        request.settimeout(30)
        try:
            tls = self.exchange.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request, client_address) -> None:
        logger.debug("exchange simulator: connection error", exc_info=True)


class ExchangeServer:
    """The simulator; a context manager that serves in a background thread."""

    def __init__(
        self,
        root: Path | str,
        users: Iterable[ServerUser | str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cert_file: Path | str | None = None,
        key_file: Path | str | None = None,
        ca_file: Path | str | None = None,
        clock: Callable[[], datetime] | None = None,
        max_upload: int = DEFAULT_MAX_UPLOAD,
        base_path: str = "",
        quiet: bool = False,
    ) -> None:
        self.root = Path(root).resolve()
        self.users = {}
        for user in users:
            user = ServerUser.parse(user) if isinstance(user, str) else user
            self.users[user.username] = user
        self.host, self.port = host, port
        self.clock = clock or (lambda: datetime.now(UTC))
        self.max_upload = max_upload
        self.base_path = base_path.rstrip("/")
        self.quiet = quiet
        self._faults: list[int] = []
        self.hostile = Hostile()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._httpd: _TLSServer | None = None
        self.ssl_context, self.ca_path = self._tls(cert_file, key_file, ca_file)
        for user in self.users.values():
            for folder in ("PECGM", "CGPEM"):
                self.folder(user.departement, folder)

    def _tls(self, cert_file, key_file, ca_file) -> tuple[ssl.SSLContext, Path]:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if cert_file:
            context.load_cert_chain(cert_file, key_file)
            return context, Path(ca_file or cert_file)
        # A fresh CA for each start: nothing secret to keep, and the client
        # proves it verifies certificates by trusting only this CA file.
        import trustme  # noqa: PLC0415  (only a simulator started without a certificate needs it)

        ca = trustme.CA(organization_name="Simulateur d'echanges Liaison RSA")
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        if ca_file is None:
            tls_dir = Path(tempfile.mkdtemp(prefix="exchange-simulator-"))
            ca_file = tls_dir / "ca.pem"
        ca_file = Path(ca_file)
        ca_file.parent.mkdir(parents=True, exist_ok=True)
        ca.cert_pem.write_to_path(str(ca_file))
        return context, ca_file

    # --- state ----------------------------------------------------------

    def now(self) -> datetime:
        return self.clock()

    def folder(self, dep: str, kind: str) -> Path:
        path = self.root / departement_on_three(dep) / kind
        path.mkdir(parents=True, exist_ok=True)
        return path

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (503, 500…), to test retries."""
        with self._lock:
            self._faults.extend(statuses)

    def next_fault(self) -> int | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def purge(self) -> list[str]:
        """Apply the retention rule now; returns the deleted names."""
        now = self.now()
        deleted = []
        for path in self.root.glob("*/*/*.xml"):
            arrived = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            if is_expired(path.name, arrived, now):
                path.unlink(missing_ok=True)
                deleted.append(path.name)
        return deleted

    def publish(self, dep: str, name: str, content: bytes, arrived: datetime | None = None) -> Path:
        """Put a PECGM file in a département's folder, as France Travail would."""
        if not FILE_NAME.match(name) or not name.startswith("PECGM_"):
            raise ValueError(f"not a PECGM file name: {name}")
        path = self.folder(dep, "PECGM") / name
        path.write_bytes(content)
        stamp = (arrived or self.now()).timestamp()
        os.utime(path, (stamp, stamp))
        return path

    # --- serving --------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}{self.base_path}"

    def bind(self) -> None:
        self._httpd = _TLSServer((self.host, self.port), _Handler)
        self._httpd.exchange = self
        self.port = self._httpd.server_address[1]

    def serve_forever(self) -> None:
        if self._httpd is None:
            self.bind()
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> ExchangeServer:
        self.bind()
        self._thread = threading.Thread(target=self.serve_forever, name="exchange-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ExchangeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def free_port() -> int:
    """A port nobody listens on (for "server down" tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
