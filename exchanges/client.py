"""The HTTPS client of France Travail's exchange server.

The contract (docs/formats): `GET <base>/<DEP>/PECGM/` is an HTML index with
one link per waiting file, `GET …/PECGM/<NAME>` downloads one,
`PUT <base>/<DEP>/CGPEM/<NAME>` deposits (201 created, 409 name taken).

Errors come in two kinds, and callers decide on the kind only:
`TransientExchangeError` (network down, timeout, 5xx: worth another try
later) and `FinalExchangeError` (wrong password, forbidden folder,
certificate not trusted, file too large: retrying changes nothing, an admin
must act). Messages are French, meant for the admin, and never contain the
credentials (requests' own messages are not copied: they may quote URLs).
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests
import urllib3
from django.conf import settings
from django.utils.translation import gettext as _

from contract.departement import departement_on_three
from contract.file_names import FILE_NAME
from exchanges.faults import DiskFull, is_disk_full

logger = logging.getLogger(__name__)

MAX_INDEX_SIZE = 2 * 1024 * 1024
_CHUNK = 256 * 1024


class ExchangeError(Exception):
    """A failed exchange; `retryable` tells whether trying again later may help."""

    retryable = False


class TransientExchangeError(ExchangeError):
    retryable = True


class FinalExchangeError(ExchangeError):
    retryable = False


class DepositConflict(FinalExchangeError):
    """The server already holds a file of that name (409)."""


@dataclass(frozen=True)
class ExchangeConfig:
    url: str
    username: str
    password: str = field(repr=False)
    departement: str
    ca_bundle: str = ""
    timeout: float = 30.0
    attempts: int = 3
    backoff: float = 2.0
    max_file_size: int = 500 * 1024 * 1024
    file_deadline: float = 900.0
    run_deadline: float = 2400.0
    min_bytes_per_second: int = 10240

    @classmethod
    def from_settings(cls) -> ExchangeConfig:
        missing = [
            name
            for name in ("EXCHANGE_URL", "EXCHANGE_USERNAME", "EXCHANGE_PASSWORD")
            if not getattr(settings, name, "")
        ]
        if missing:
            raise FinalExchangeError(
                _("Échanges non configurés : renseignez %(names)s dans l'environnement.")
                % {"names": ", ".join(missing)}
            )
        return cls(
            url=settings.EXCHANGE_URL,
            username=settings.EXCHANGE_USERNAME,
            password=settings.EXCHANGE_PASSWORD,
            departement=settings.DEPARTEMENT,
            ca_bundle=settings.EXCHANGE_CA_BUNDLE,
            timeout=settings.EXCHANGE_TIMEOUT_SECONDS,
            attempts=settings.EXCHANGE_ATTEMPTS,
            backoff=settings.EXCHANGE_RETRY_BACKOFF_SECONDS,
            max_file_size=settings.PECGM_MAX_FILE_SIZE,
            file_deadline=settings.EXCHANGE_FILE_DEADLINE_SECONDS,
            run_deadline=settings.EXCHANGE_RUN_DEADLINE_SECONDS,
            min_bytes_per_second=settings.EXCHANGE_MIN_BYTES_PER_SECOND,
        )


@dataclass(frozen=True)
class RemoteFile:
    name: str
    reference_date: str  # YYYYMMDD, from the name
    periodicity: str  # M, H, Q


@dataclass(frozen=True)
class Download:
    name: str
    path: Path
    sha256: str
    size: int
    # Set instead of a download: the file of this name and size was rejected before.
    known: object | None = None


class _LinkCollector(HTMLParser):
    """The `href` of every `<a>`: the only thing read from the index page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            for key, value in attrs:
                if key == "href" and value:
                    self.hrefs.append(value)


def parse_index(page: str, departement: str) -> list[RemoteFile]:
    """The PECGM files of `departement` linked from an index page, sorted by reference date.

    Only plain relative links whose name is a PECGM name of our département
    are kept: parent links, sort links (`?C=N;O=D`), absolute URLs and
    anything that would climb out of the folder are ignored.
    """
    collector = _LinkCollector()
    collector.feed(page)
    collector.close()
    dep = departement_on_three(departement)
    found: dict[str, RemoteFile] = {}
    for href in collector.hrefs:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or parts.query or parts.fragment:
            continue
        name = unquote(parts.path)
        if name.startswith("./"):
            name = name[2:]
        match = FILE_NAME.match(name)
        if not match or match["kind"] != "PECGM" or match["dep"] != dep:
            continue
        found[name] = RemoteFile(name, match["date"], match["period"])
    # Stocks before fluxes of the same date: a flux applies on top of a stock.
    order = {"M": 0, "H": 1, "Q": 2}
    return sorted(found.values(), key=lambda f: (f.reference_date, order[f.periodicity], f.name))


class ExchangeClient:
    def __init__(self, config: ExchangeConfig, *, session: requests.Session | None = None) -> None:
        parts = urlsplit(config.url)
        if parts.scheme != "https":
            raise FinalExchangeError(
                _("EXCHANGE_URL doit commencer par https:// : les échanges sont chiffrés.")
            )
        if parts.username or parts.password:
            raise FinalExchangeError(
                _(
                    "EXCHANGE_URL ne doit pas contenir d'identifiants : "
                    "utilisez EXCHANGE_USERNAME et EXCHANGE_PASSWORD."
                )
            )
        if config.ca_bundle and not Path(config.ca_bundle).is_file():
            raise FinalExchangeError(
                _("Le fichier de certificats EXCHANGE_CA_BUNDLE est introuvable : %(path)s")
                % {"path": config.ca_bundle}
            )
        self.config = config
        # One client per run (transfers._fetch): the run's wall-clock deadline starts here.
        self.run_deadline_at = time.monotonic() + config.run_deadline
        self.base = config.url.rstrip("/")
        self.dep = departement_on_three(config.departement)
        self.session = session or requests.Session()
        self.session.auth = (config.username, config.password)
        # Certificates are always verified: against the configured bundle, or
        # the system's authorities. Never `verify=False`.
        self.session.verify = config.ca_bundle or True
        self.session.trust_env = False  # no proxy or .netrc credentials picked up silently
        self.session.headers["User-Agent"] = "liaison-rsa"
        # The bytes as stored: their SHA-256 and size are the file's, and a compressed body
        # is never inflated in memory or on disk beyond PECGM_MAX_FILE_SIZE.
        self.session.headers["Accept-Encoding"] = "identity"

    # --- public API -------------------------------------------------------

    def pecgm_folder_url(self) -> str:
        return f"{self.base}/{self.dep}/PECGM/"

    def list_pecgm(self) -> list[RemoteFile]:
        response = self._request("GET", self.pecgm_folder_url(), stream=True, what=_("la liste des fichiers"))
        _refuse_content_encoding(response, _("la liste des fichiers"))
        try:
            body = self._read_limited(response, MAX_INDEX_SIZE, _("la liste des fichiers"))
        finally:
            response.close()
        encoding = _index_charset(response)
        return parse_index(body.decode(encoding, errors="replace"), self.config.departement)

    def download(
        self, name: str, directory: Path, *, known_sizes: dict | None = None, keep_free: int = 0
    ) -> Download:
        """Stream one PECGM file to a temporary file in `directory`; the caller deletes it.

        `known_sizes` ({size: what}): files of this name already judged; when the server
        announces one of these sizes the body is not read, and `Download.known` is `what`.
        `keep_free`: bytes that must stay free on the disk once the file (its announced
        size, else the maximum) is written: otherwise `DiskFull` before reading the body.
        """
        if not FILE_NAME.match(name):
            raise FinalExchangeError(_("Nom de fichier refusé : %(name)s") % {"name": name})
        what = _("le fichier %(name)s") % {"name": name}
        if time.monotonic() > self.run_deadline_at:
            raise TransientExchangeError(
                _(
                    "Échange arrêté avant %(what)s : durée maximale d'une réception dépassée "
                    "(%(seconds)d s, EXCHANGE_RUN_DEADLINE_SECONDS). Le reste viendra au prochain essai."
                )
                % {"what": what, "seconds": self.config.run_deadline}
            )
        response = self._request("GET", self.pecgm_folder_url() + name, stream=True, what=what)
        _refuse_content_encoding(response, what)
        limit = self.config.max_file_size
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            response.close()
            raise self._too_large(name, limit)
        if declared.isdigit() and int(declared) in (known_sizes or {}):
            response.close()
            logger.info("exchange: %s already judged (same name and size), not fetched", name)
            return Download(name, Path(), "", int(declared), known=known_sizes[int(declared)])
        directory.mkdir(parents=True, exist_ok=True)
        needed = keep_free + (int(declared) if declared.isdigit() else limit)
        if shutil.disk_usage(directory).free < needed:
            response.close()
            raise DiskFull(directory)
        digest = hashlib.sha256()
        size = 0
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
        path = Path(temp)
        try:
            with os.fdopen(fd, "wb") as handle, response:
                for chunk in self._chunks(response, name):
                    size += len(chunk)
                    if size > limit:
                        raise self._too_large(name, limit)
                    digest.update(chunk)
                    handle.write(chunk)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            path.unlink(missing_ok=True)
            raise TransientExchangeError(
                _("Téléchargement de %(name)s interrompu (%(reason)s) : nouvel essai possible.")
                % {"name": name, "reason": type(exc).__name__}
            ) from None
        except BaseException as exc:
            path.unlink(missing_ok=True)  # never a partial copy left behind (every NIR is in it)
            if is_disk_full(exc):
                raise DiskFull(directory) from None
            raise
        if declared.isdigit() and int(declared) != size:
            path.unlink(missing_ok=True)
            raise TransientExchangeError(_("Téléchargement de %(name)s incomplet.") % {"name": name})
        logger.info("exchange: downloaded %s (%d bytes)", name, size)
        return Download(name, path, digest.hexdigest(), size)

    def deposit(self, name: str, path: Path) -> int:
        """PUT a CGPEM file; returns 201. A 409 raises `DepositConflict` (the caller decides)."""
        match = FILE_NAME.match(name)
        if not match or match["kind"] != "CGPEM" or match["dep"] != self.dep:
            raise FinalExchangeError(_("Nom de fichier CGPEM refusé : %(name)s") % {"name": name})
        url = f"{self.base}/{self.dep}/CGPEM/{name}"
        what = _("le dépôt de %(name)s") % {"name": name}
        data = path.read_bytes()  # CGPEM files are small (one line per decision of a period)
        response = self._request(
            "PUT",
            url,
            data=data,
            headers={"Content-Type": "application/xml"},
            what=what,
            accept=(201, 409),
        )
        response.close()
        if response.status_code == 409:
            raise DepositConflict(_("Le serveur a déjà un fichier nommé %(name)s (409).") % {"name": name})
        logger.info("exchange: deposited %s (%d bytes)", name, len(data))
        return response.status_code

    # --- plumbing -----------------------------------------------------------

    def _request(self, method: str, url: str, *, what: str, accept=(200,), **kwargs) -> requests.Response:
        """One request with retries on network errors and 5xx; other failures are final at once."""
        attempts = max(1, self.config.attempts)
        for attempt in range(1, attempts + 1):
            try:
                response = self.session.request(
                    method, url, timeout=self.config.timeout, allow_redirects=False, **kwargs
                )
            except requests.exceptions.SSLError:
                raise FinalExchangeError(
                    _(
                        "Le certificat du serveur d'échanges n'est pas reconnu : vérifiez EXCHANGE_URL "
                        "et, s'il s'agit d'une autorité interne, EXCHANGE_CA_BUNDLE."
                    )
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                error = TransientExchangeError(
                    _("Serveur d'échanges injoignable pour %(what)s (%(reason)s).")
                    % {"what": what, "reason": _network_reason(exc)}
                )
            except requests.RequestException as exc:
                raise FinalExchangeError(
                    _("Requête impossible pour %(what)s (%(reason)s).")
                    % {"what": what, "reason": type(exc).__name__}
                ) from None
            else:
                if response.status_code in accept:
                    return response
                response.close()
                error = _status_error(response.status_code, what)
                if not error.retryable:
                    raise error
            logger.warning(
                "exchange: %s %s failed (attempt %d/%d): %s", method, _path_of(url), attempt, attempts, error
            )
            if attempt < attempts:
                time.sleep(self.config.backoff * 2 ** (attempt - 1))
        raise error

    def _read_limited(self, response: requests.Response, limit: int, what: str) -> bytes:
        body = bytearray()
        try:
            for chunk in self._chunks(response, what):
                body += chunk
                if len(body) > limit:
                    raise FinalExchangeError(_("Réponse trop volumineuse pour %(what)s.") % {"what": what})
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise TransientExchangeError(
                _("Réponse interrompue pour %(what)s (%(reason)s).")
                % {"what": what, "reason": type(exc).__name__}
            ) from None
        return bytes(body)

    def _chunks(self, response: requests.Response, what: str) -> Iterator[bytes]:
        """The body as it arrives, cut at the file's or the run's deadline, or when too slow.

        `read1` returns what one read of the socket brings (the timeout bounds each read),
        so the clock is looked at even when a server trickles a byte at a time; the body
        is the server's bytes as sent (a Content-Encoding was refused before).
        """
        started = time.monotonic()
        deadline = min(started + self.config.file_deadline, self.run_deadline_at)
        received = 0
        while chunk := response.raw.read1(_CHUNK, decode_content=False):
            received += len(chunk)
            yield chunk
            now = time.monotonic()
            if now > deadline:
                response.close()
                if deadline == self.run_deadline_at:
                    raise TransientExchangeError(
                        _(
                            "Échange arrêté pendant %(what)s : durée maximale d'une réception "
                            "dépassée (%(seconds)d s, EXCHANGE_RUN_DEADLINE_SECONDS). "
                            "Le reste viendra au prochain essai."
                        )
                        % {"what": what, "seconds": self.config.run_deadline}
                    )
                raise TransientExchangeError(
                    _(
                        "Téléchargement de %(what)s arrêté : plus de %(seconds)d s "
                        "(EXCHANGE_FILE_DEADLINE_SECONDS), le serveur envoie trop lentement."
                    )
                    % {"what": what, "seconds": self.config.file_deadline}
                )
            elapsed = now - started
            minimum = self.config.min_bytes_per_second
            if minimum and elapsed > self.config.timeout and received / elapsed < minimum:
                response.close()
                raise TransientExchangeError(
                    _(
                        "Téléchargement de %(what)s arrêté : %(rate)d octets/s, sous le débit minimal "
                        "(%(minimum)d octets/s, EXCHANGE_MIN_BYTES_PER_SECOND)."
                    )
                    % {"what": what, "rate": received / elapsed, "minimum": minimum}
                )

    @staticmethod
    def _too_large(name: str, limit: int) -> FinalExchangeError:
        return FinalExchangeError(
            _("Le fichier %(name)s dépasse la taille maximale acceptée (%(mb)d Mo, PECGM_MAX_FILE_SIZE_MB).")
            % {"name": name, "mb": limit // (1024 * 1024)}
        )


# The charsets an index page may declare: the contract's files are ISO-8859-1, the
# server's pages UTF-8; anything else (`rot13`, a codec that is no text encoding) is refused.
INDEX_CHARSETS = {"utf-8": "utf-8", "iso8859-1": "latin-1", "latin-1": "latin-1", "ascii": "ascii"}


def _index_charset(response: requests.Response) -> str:
    declared = (response.encoding or "utf-8").strip()
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        name = ""
    if name not in INDEX_CHARSETS:
        response.close()
        raise FinalExchangeError(
            _(
                "Le serveur d'échanges annonce pour la liste des fichiers un jeu de caractères "
                "non prévu par le contrat (« %(charset)s ») : seuls UTF-8, ISO-8859-1 et ASCII "
                "sont acceptés. Signalez-le à France Travail."
            )
            % {"charset": declared[:40]}
        )
    return INDEX_CHARSETS[name]


def _refuse_content_encoding(response: requests.Response, what: str) -> None:
    """A compressed body although we asked for `identity`: refused, not retried as « incomplet »."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding and encoding != "identity":
        response.close()
        raise FinalExchangeError(
            _(
                "Le serveur d'échanges a envoyé %(what)s compressé (Content-Encoding : %(encoding)s) "
                "alors que le client demande les octets tels quels (identity) : refusé. "
                "Signalez-le à France Travail."
            )
            % {"what": what, "encoding": encoding[:40]}
        )


def _path_of(url: str) -> str:
    return urlsplit(url).path


def _network_reason(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return _("délai dépassé")
    return _("connexion impossible")


def _status_error(status: int, what: str) -> ExchangeError:
    if status == 401:
        return FinalExchangeError(
            _(
                "Identifiant ou mot de passe refusé par le serveur d'échanges (401) pour %(what)s : "
                "vérifiez EXCHANGE_USERNAME et EXCHANGE_PASSWORD."
            )
            % {"what": what}
        )
    if status == 403:
        return FinalExchangeError(
            _(
                "Accès refusé par le serveur d'échanges (403) pour %(what)s : ce compte n'a pas accès "
                "au dossier du département (vérifiez DEPARTEMENT et le compte)."
            )
            % {"what": what}
        )
    if status == 404:
        return FinalExchangeError(
            _("Introuvable sur le serveur d'échanges (404) : %(what)s. Vérifiez EXCHANGE_URL.")
            % {"what": what}
        )
    if status == 413:
        return FinalExchangeError(_("Fichier refusé car trop volumineux (413) : %(what)s.") % {"what": what})
    if 500 <= status < 600:
        return TransientExchangeError(
            _("Le serveur d'échanges est en erreur (%(status)d) pour %(what)s.")
            % {"status": status, "what": what}
        )
    return FinalExchangeError(
        _("Réponse inattendue du serveur d'échanges (%(status)d) pour %(what)s.")
        % {"status": status, "what": what}
    )
