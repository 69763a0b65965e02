"""Is this link safe to follow? Scheme and address checks for URLs found in feeds.

Links in feeds point anywhere, including at the machine we run on (``http://127.0.0.1:8080``,
the Airflow API), the office network (``10.x``), or a cloud metadata service
(``http://169.254.169.254/``) that hands out credentials. So before every request, and again
on every redirect hop, :func:`resolve_safe` checks:

* the scheme is ``http`` or ``https``, the URL carries no user:password, the host is present;
* the host is not a known metadata name (``metadata.google.internal`` …);
* **every** address the name resolves to is globally routable: not loopback, private,
  link-local, CGNAT (100.64/10), multicast, reserved, unspecified, documentation or
  benchmarking ranges, nor an IPv4 address smuggled inside IPv6 (mapped, 6to4, Teredo).

It returns the checked addresses so the caller can connect to exactly those (pinning), which
closes the DNS-rebinding gap between "check" and "connect".

An operator may allow hosts in ``settings.allow_hosts``: an entry is a host name
(``intranet.example``), an address (``127.0.0.1``) or a network (``10.1.0.0/16``). Allowed
hosts skip the address check, nothing else; tests use ``127.0.0.1`` this way.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from monitor.errors import FetchError, UnsafeURL

__all__ = ["resolve_safe", "check_address", "is_allowed_host", "SAFE_SCHEMES", "Resolver",
           "HostNotFound"]

log = logging.getLogger(__name__)

SAFE_SCHEMES = frozenset({"http", "https"})

#: Names of cloud metadata services; refused whatever they resolve to.
METADATA_HOSTS = frozenset({
    "metadata.google.internal", "metadata.goog", "metadata", "instance-data",
    "instance-data.ec2.internal", "metadata.azure.internal",
})

#: Addresses of metadata services, named so the refusal message says what it is.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254", "192.0.0.192",
))

_CGNAT = ipaddress.ip_network("100.64.0.0/10")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``(host, port) -> list of address strings``; tests may pass their own.
Resolver = Callable[[str, int], list[str]]


class HostNotFound(FetchError):
    """The host name does not resolve (DNS down, offline, a typo, a dead domain).

    Deliberately not an :class:`UnsafeURL`: nothing was refused, the network could not answer.
    Callers label it ``dns_error`` so that "blocked for safety" and "cannot see" stay apart.
    """


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_address(ip: IPAddress) -> str | None:
    """Why this address must not be contacted, or ``None`` if it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None):
            if inner is not None:
                reason = check_address(inner)
                if reason:
                    return f"{reason} (inside IPv6 {ip})"
    if ip in METADATA_ADDRESSES:
        return "cloud metadata address"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if ip.is_unspecified:
        return "unspecified address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "carrier-grade NAT address"
    if ip.is_reserved:
        return "reserved address"
    if ip.is_private:
        return "private address"
    if not ip.is_global:
        return "non-global address"
    return None


def is_allowed_host(host: str, addresses: Iterable[str], allow_hosts: Iterable[str]) -> bool:
    """True if the operator allowed this host by name, address or network."""
    host = host.lower().rstrip(".")
    parsed = []
    for entry in allow_hosts:
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        if entry == host:
            return True
        try:
            parsed.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue
    if not parsed:
        return False
    ips = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    return bool(ips) and all(any(ip in net for net in parsed) for ip in ips)


def resolve_safe(url: str, allow_hosts: Iterable[str] = (),
                 resolver: Resolver | None = None) -> list[str]:
    """Check ``url`` and return the addresses it may be fetched from; raise ``UnsafeURL``,
    or ``HostNotFound`` when the name does not resolve.

    Call it for the first request and for each redirect target.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"malformed URL: {exc}", url=url) from None
    scheme = parts.scheme.lower()
    if scheme not in SAFE_SCHEMES:
        raise UnsafeURL(f"scheme {scheme or '(none)'!r} refused: only http and https", url=url)
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("URLs with credentials are refused", url=url)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL("URL has no host", url=url)
    allow_hosts = tuple(allow_hosts)
    if host in METADATA_HOSTS and host not in allow_hosts:
        raise UnsafeURL(f"host {host} is a cloud metadata service", url=url)
    port = port or (443 if scheme == "https" else 80)
    try:
        literal = ipaddress.ip_address(host)
        addresses = [str(literal)]
    except ValueError:
        try:
            addresses = (resolver or _system_resolver)(host, port)
        except (OSError, UnicodeError) as exc:
            raise HostNotFound(f"cannot resolve host {host}: {exc}", url=url) from None
    if not addresses:
        raise HostNotFound(f"cannot resolve host {host}: no address", url=url)
    if is_allowed_host(host, addresses, allow_hosts):
        return addresses
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            raise UnsafeURL(f"{host} resolved to an unreadable address {address!r}",
                            url=url) from None
        reason = check_address(ip)
        if reason:
            log.info("unsafe url refused url=%s host=%s address=%s reason=%s",
                     url, host, address, reason)
            raise UnsafeURL(f"{host} resolves to {address}: {reason}", url=url)
    return addresses
