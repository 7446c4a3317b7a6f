"""Where a CRM address may lead: public internet addresses only.

A CRM address is typed by a supplier, so without a check it is a way to make our servers send requests into our own
network (the cloud metadata service, PostgreSQL, Redis, an admin port) and, through the error messages, to scan it.
Two checks, both needed:

- ``check_crm_url`` when an address is saved: https only, no user name or password in it, no host written as a
  bare number (``2130706433``, ``0``, ``0x7f.1``, ``017700000001``: the C resolver reads them as IPv4 addresses), and
  every address its host resolves to must be public (``public_addresses``).
- ``PublicOnlyTransport`` on every request a provider client sends: it resolves the host itself, refuses the request
  unless every address is public, and connects to one of the addresses it checked (TLS still verifies the
  certificate for the host name, through httpx's ``sni_hostname`` extension). So a host whose DNS answer changes
  after the check (DNS rebinding) and an address saved before these checks, or while ``ALLOW_LOCAL_CRM_URLS=1``,
  are refused by a production server too.

"Public" is Python's ``ipaddress`` view of it: ``is_global`` and none of loopback, private, link-local, multicast,
reserved or unspecified, with IPv4-mapped (``::ffff:127.0.0.1``) and 6to4 IPv6 addresses judged by the IPv4 address
they carry and Teredo refused. ``allow_local`` (``ALLOW_LOCAL_CRM_URLS=1``, for the sandbox CRM in development and
tests) adds loopback and nothing else, and only there is plain http allowed.

Nothing here says *why* an address was refused to the person who typed it: a refused address reads exactly like one
that did not answer, so the messages cannot be used to map what is reachable from our servers.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

PIN_SECONDS = 60.0  # how long a host's checked addresses are reused by one client (a job's thousands of pages)
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)


class UnsafeAddress(Exception):
    """The address leads somewhere other than the public internet (or is not an address we accept); never retried."""


def _system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeAddress(f"cannot resolve {host!r}") from exc
    return [str(info[4][0]) for info in infos]


def is_public(address: IPAddress, *, allow_local: bool = False) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.teredo is not None:
            return False
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public(embedded, allow_local=allow_local)
    if allow_local and address.is_loopback:
        return True
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def check_crm_url(url: str, *, allow_local: bool = False) -> httpx.URL:
    """The address as httpx will use it, if its form is acceptable (resolution is ``public_addresses``' job)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise UnsafeAddress("not a URL") from exc
    if parsed.scheme != "https" and not (allow_local and parsed.scheme == "http"):
        raise UnsafeAddress("not https")
    if parsed.userinfo:
        raise UnsafeAddress("user information in the URL")
    host = parsed.host
    if not host:
        raise UnsafeAddress("no host")
    if _literal(host) is None and all(_NUMERIC_LABEL.match(label) for label in host.rstrip(".").split(".")):
        raise UnsafeAddress("a host written as a number")
    return parsed


def public_addresses(
    host: str, port: int, *, allow_local: bool = False, resolver: Resolver = _system_resolver, plain_http: bool = False
) -> list[str]:
    """Every address ``host`` resolves to, if all of them are public (or loopback, when allowed); plain http only to
    loopback. Raises ``UnsafeAddress`` otherwise, or when the host does not resolve."""
    literal = _literal(host)
    found = [host] if literal is not None else list(resolver(host, port))
    if not found:
        raise UnsafeAddress(f"no address for {host!r}")
    for text in found:
        address = _literal(text)
        if address is None or not is_public(address, allow_local=allow_local):
            raise UnsafeAddress(f"{host!r} resolves to a non-public address")
        if plain_http and not address.is_loopback:
            raise UnsafeAddress("plain http outside this machine")
    return found


def resolve_crm_url(url: str, *, allow_local: bool = False, resolver: Resolver = _system_resolver) -> list[str]:
    """Both checks at once, for an address about to be saved (blocking: DNS)."""
    parsed = check_crm_url(url, allow_local=allow_local)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return public_addresses(
        parsed.host, port, allow_local=allow_local, resolver=resolver, plain_http=parsed.scheme == "http"
    )


class PublicOnlyTransport(httpx.BaseTransport):
    """Sends a request only to public addresses, checked as it is sent (see the module docstring).

    Wraps the transport that does the sending, whatever it is (the pacing transport of the workers, a plain
    ``httpx.HTTPTransport``). A host's checked addresses are kept for ``PIN_SECONDS``, so a job's thousands of
    requests cost one lookup a minute; each request goes to the first of them that accepts a connection.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        *,
        allow_local: bool = False,
        resolver: Resolver = _system_resolver,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self._allow_local = allow_local
        self._resolver = resolver
        self._clock = clock
        self._pinned: dict[tuple[str, str, int], tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def _addresses(self, url: httpx.URL) -> list[str]:
        check_crm_url(str(url), allow_local=self._allow_local)
        port = url.port or (443 if url.scheme == "https" else 80)
        key = (url.scheme, url.host, port)
        now = self._clock()
        with self._lock:
            pinned = self._pinned.get(key)
        if pinned is not None and pinned[0] > now:
            return pinned[1]
        found = public_addresses(
            url.host, port, allow_local=self._allow_local, resolver=self._resolver, plain_http=url.scheme == "http"
        )
        with self._lock:
            self._pinned[key] = (now + PIN_SECONDS, found)
        return found

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        addresses = self._addresses(url)
        if _literal(url.host) is not None:
            return self._inner.handle_request(request)
        last: httpx.ConnectError | None = None
        for address in addresses:
            # The Host header was set from the name when the request was built; TLS is told the name too.
            request.url = url.copy_with(host=address)
            if url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": url.host}
            try:
                return self._inner.handle_request(request)
            except httpx.ConnectError as exc:
                last = exc
            finally:
                request.url = url
        assert last is not None
        raise last

    def close(self) -> None:
        self._inner.close()
