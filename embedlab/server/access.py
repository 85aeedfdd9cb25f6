"""Who may use the server: the Host check, the Origin check and the API key, before any route.

A server on 127.0.0.1 is still reachable from every web page the user opens: the browser sends
the page's requests from the user's own machine. Two checks keep pages out:

- **Origin**: a browser names the page in `Origin` on every POST and every cross-site request.
  A request with an `Origin` that is not on the allow-list (`--allow-origin`, empty by default)
  gets a 403. An allowed origin gets CORS headers, and its preflight is answered.
- **Host**: a page on a name that resolves to 127.0.0.1 (DNS rebinding) would count as the
  same site as the server. So `Host` must be an address the server listens on (a loopback
  server also answers to `localhost`), an IP address when it listens on every interface, or a
  name allowed with `--allow-host`.

Then the key: 401 unless `Authorization: Bearer <key>` carries the server's key (compared in
constant time). `GET /health` needs no key, for readiness checks.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from embedlab.server import errors

OPEN_PATHS = frozenset({"/health"})  # reachable without the key
LOCAL_NAMES = frozenset({"localhost"})
_PREFLIGHT_HEADERS = "authorization, content-type"


@dataclass(frozen=True)
class AccessRules:
    api_key: str | None = None
    origins: frozenset[str] = frozenset()  # allowed `Origin` values; "*" allows every page
    addresses: frozenset[str] | None = None  # the addresses served; None: every IP address
    names: frozenset[str] = LOCAL_NAMES  # host names allowed besides the addresses

    @classmethod
    def for_address(cls, address: str, *, api_key: str | None = None, origins: Iterable[str] = (), names: Iterable[str] = ()) -> AccessRules:
        """The rules for a server listening on `address` (as the socket reports it)."""
        extra = frozenset(name.lower().rstrip(".") for name in names)
        ip = ipaddress.ip_address(address)
        if ip.is_unspecified:  # 0.0.0.0 or ::, every interface
            served, local = None, True
        else:
            served, local = frozenset({ip.compressed}), ip.is_loopback
            if local:
                served |= {"127.0.0.1", "::1"}
        return cls(
            api_key=api_key,
            origins=frozenset(o.rstrip("/") for o in origins),
            addresses=served,
            names=(LOCAL_NAMES if local else frozenset()) | extra,
        )

    def host_allowed(self, host: str) -> bool:
        name = _host_name(host)
        if name in self.names:
            return True
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            return False
        return self.addresses is None or ip.compressed in self.addresses

    def origin_allowed(self, origin: str) -> bool:
        return "*" in self.origins or origin.rstrip("/") in self.origins


class AccessCheck:
    """The checks above, as ASGI middleware around the whole application."""

    def __init__(self, app: ASGIApp, rules: AccessRules) -> None:
        self.app = app
        self.rules = rules
        self.key = rules.api_key.encode() if rules.api_key else None
        self._good_hosts: set[bytes] = set()  # Host values already allowed (only those: a few)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = origin = authorization = None
        for name, value in scope["headers"]:  # one pass; most requests carry no Origin
            if name == b"host":
                host = value
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        if host is not None and host not in self._good_hosts:
            if not self.rules.host_allowed(host.decode("latin-1")):
                await errors.forbidden_host(host.decode("latin-1")).response()(scope, receive, send)
                return
            self._good_hosts.add(host)
        if origin is not None:
            if not self.rules.origin_allowed(origin):
                await errors.forbidden_origin(origin).response()(scope, receive, send)
                return
            if scope["method"] == "OPTIONS" and "access-control-request-method" in Headers(scope=scope):
                await _preflight(origin)(scope, receive, send)
                return
            send = _with_cors(send, origin)
        error = self._key_error(scope, authorization)
        if error is not None:
            await error.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _key_error(self, scope: Scope, authorization: str | None) -> errors.APIError | None:
        if self.key is None or scope["path"] in OPEN_PATHS:
            return None
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if not token:
            return errors.missing_key()
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode("latin-1"), self.key):
            return errors.wrong_key()
        return None


def _host_name(host: str) -> str:
    """`Host` without its port, brackets or a final dot, in lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0].rstrip(".") if host.count(":") == 1 else host.rstrip(".")


def _cors_headers(origin: str) -> dict[str, str]:
    return {"access-control-allow-origin": origin, "vary": "Origin"}


def _preflight(origin: str) -> Response:
    return Response(
        status_code=204,
        headers={
            **_cors_headers(origin),
            "access-control-allow-methods": "GET, POST",
            "access-control-allow-headers": _PREFLIGHT_HEADERS,
            "access-control-max-age": "600",
        },
    )


def _with_cors(send: Send, origin: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in _cors_headers(origin).items():
                headers[name] = value
        await send(message)

    return sending
