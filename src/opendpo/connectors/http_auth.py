"""Signing requests to an HTTP API: an API key, a bearer token, HTTP Basic, OAuth2 client
credentials.

Each is an httpx.Auth, so a connector's one client signs every request the same way. A client
credentials token is kept until shortly before it expires, shared by every thread, and fetched
afresh once when the API answers 401 all the same (revoked early, or clocks that disagree).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Generator, Mapping
from urllib.parse import quote

import httpx

from opendpo.connectors.base import ConnectorError
from opendpo.connectors.http_spec import ApiKey, Auth, Basic, Bearer, OAuth2ClientCredentials
from opendpo.connectors.secrets import resolve_secret

# The longest a token is given up early, so that a request never starts with one about to lapse.
REFRESH_MARGIN_SECONDS = 30.0

TokenSender = Callable[[httpx.Request], httpx.Response]
"""Sends a token request; returns a 2xx response or raises ConnectorError."""


class SigningAuth(httpx.Auth):
    def secrets(self) -> list[str]:
        """Every secret this auth may send, so that no message ever repeats one."""
        raise NotImplementedError


class ApiKeyAuth(SigningAuth):
    def __init__(self, *, key: str, header: str | None, query_param: str | None) -> None:
        self._key = key
        self._header = header
        self._query_param = query_param

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._header is not None:
            request.headers[self._header] = self._key
        elif self._query_param is not None:
            # Set, not added: a `next` link may already carry the key.
            request.url = request.url.copy_set_param(self._query_param, self._key)
        yield request

    def secrets(self) -> list[str]:
        return [self._key, quote(self._key, safe="")]


class BearerAuth(SigningAuth):
    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def secrets(self) -> list[str]:
        return [self._token]


class BasicAuth(SigningAuth):
    def __init__(self, username: str, password: str) -> None:
        pair = f"{username}:{password}".encode()
        self._header = "Basic " + base64.b64encode(pair).decode("ascii")
        self._password = password

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def secrets(self) -> list[str]:
        return [self._password, self._header]


class ClientCredentialsAuth(SigningAuth):
    """OAuth2 client credentials (RFC 6749 section 4.4), the token cached for every thread."""

    def __init__(
        self,
        system: str,
        config: OAuth2ClientCredentials,
        client_secret: str,
        send: TokenSender,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._system = system
        self._config = config
        self._secret = client_secret
        self._send = send
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token, fresh = self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and not fresh:
            token, _ = self.token(stale=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    def token(self, *, stale: str | None = None) -> tuple[str, bool]:
        """(token, whether it was fetched just now); `stale` is one the API has refused."""
        with self._lock:
            if self._token is not None and self._token != stale and self._clock() < self._renew_at:
                return self._token, False
            token, lifetime = self._fetch()
            self._token = token
            if lifetime is None:
                # No expiry given: keep it until the API refuses it.
                self._renew_at = float("inf")
            else:
                margin = min(REFRESH_MARGIN_SECONDS, lifetime / 10)
                self._renew_at = self._clock() + lifetime - margin
            return token, True

    def _fetch(self) -> tuple[str, float | None]:
        config = self._config
        form = {"grant_type": "client_credentials"}
        if config.scope:
            form["scope"] = config.scope
        if config.audience:
            form["audience"] = config.audience
        headers = {"Accept": "application/json"}
        if config.client_auth == "basic":
            # RFC 6749 2.3.1: both parts form-encoded before they are joined.
            pair = f"{quote(config.client_id, safe='')}:{quote(self._secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        else:
            form.update(client_id=config.client_id, client_secret=self._secret)
        request = httpx.Request("POST", config.token_url, data=form, headers=headers)
        response = self._send(request)
        try:
            body = response.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise self._refused("answered without an access_token")
        assert isinstance(body, dict)
        kind = body.get("token_type", "bearer")
        if not isinstance(kind, str) or kind.lower() != "bearer":
            raise self._refused("issued a token that is not a bearer token")
        lifetime = body.get("expires_in")
        if lifetime is None:
            return token, None
        try:
            return token, float(lifetime)
        except (TypeError, ValueError):
            raise self._refused("gave an expires_in that is not a number of seconds") from None

    def _refused(self, what: str) -> ConnectorError:
        return ConnectorError(self._system, f"the OAuth2 token endpoint {what}", retryable=False)

    def secrets(self) -> list[str]:
        # Read without the lock: an error raised while a token is fetched asks for these.
        current = [self._token] if self._token else []
        return [self._secret, quote(self._secret, safe=""), *current]


def build_auth(
    system: str, config: Auth | None, environ: Mapping[str, str], send: TokenSender
) -> SigningAuth | None:
    """The auth for a connection, its secrets resolved now (ConnectorError if one is missing)."""
    if isinstance(config, ApiKey):
        key = resolve_secret(system, "value", config.value, config.value_env, environ)
        return ApiKeyAuth(key=key, header=config.header, query_param=config.query_param)
    if isinstance(config, Bearer):
        return BearerAuth(resolve_secret(system, "token", config.token, config.token_env, environ))
    if isinstance(config, Basic):
        password = resolve_secret(system, "password", config.password, config.password_env, environ)
        return BasicAuth(config.username, password)
    if isinstance(config, OAuth2ClientCredentials):
        secret = resolve_secret(
            system, "client_secret", config.client_secret, config.client_secret_env, environ
        )
        return ClientCredentialsAuth(system, config, secret, send)
    return None
