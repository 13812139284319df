"""Talking to one HTTP API: signed requests on one kept-alive client, records read page by page,
and every failure turned into an HttpApiError that says whether trying again may help.

429, 408 and 5xx may pass (retryable, with the seconds of any Retry-After); any other refusal,
a redirect (never followed: an API key in a custom header would go with it to another host) or
a body that is not the JSON the description says will not. Messages name an endpoint by its
template (`GET /contacts/{id}`), never by its URL: URLs carry identities, and API keys when
the key is a query parameter.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import ssl
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from opendpo import __version__
from opendpo.connectors.base import ConnectorError, get_path
from opendpo.connectors.http_auth import build_auth
from opendpo.connectors.http_spec import (
    CursorPagination,
    HttpConnection,
    LinkPagination,
    OffsetPagination,
    PagePagination,
    ReadRequest,
    RequestSpec,
)
from opendpo.connectors.http_templates import as_text, render_json, render_text, whole_placeholder

GONE = (404, 410)


class HttpApiError(ConnectorError):
    """The API failed or refused; `retry_after` is how long it asked us to wait, in seconds."""

    def __init__(
        self,
        system: str,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(system, message, retryable=retryable, retry_after=retry_after)
        self.status = status


class ApiClient:
    """One API's client: thread-safe, as httpx.Client is; the auth keeps its own lock."""

    def __init__(self, system: str, config: HttpConnection, environ: Mapping[str, str]) -> None:
        self.system = system
        self._config = config
        self._auth = build_auth(system, config.auth, environ, self._send_token)
        self._client = httpx.Client(
            base_url=config.base_url,
            timeout=config.timeout_seconds,
            verify=self._tls(),
            headers={
                "Accept": "application/json",
                "User-Agent": f"OpenDPO/{__version__}",
                **config.headers,
            },
            auth=self._auth,
            follow_redirects=False,
        )

    def _tls(self) -> ssl.SSLContext | bool:
        if self._config.ca_file is None:
            return self._config.verify_tls
        try:
            return ssl.create_default_context(cafile=str(self._config.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConnectorError(
                self.system,
                f"ca_file {self._config.ca_file} cannot be used: {exc}",
                retryable=False,
            ) from None

    def close(self) -> None:
        self._client.close()

    def call(
        self,
        request: RequestSpec,
        values: Mapping[str, Any],
        label: str,
        *,
        path_values: Mapping[str, Any] | None = None,
        accept: tuple[int, ...] = GONE,
    ) -> httpx.Response:
        """Send a request of the description; a 2xx or an `accept`ed status, else an error."""
        response = self.send(self._build(request, values, label, path_values=path_values), label)
        if response.status_code not in accept:
            self.raise_for_status(response, label)
        return response

    def records(
        self, request: ReadRequest, values: Mapping[str, Any], label: str
    ) -> Iterator[dict[str, Any]]:
        """The records a read request returns, page after page; none for a 404."""
        paging = request.pagination
        position: int | str | None = None
        link: httpx.URL | None = None
        cursors: set[str] = set()
        pages = 0
        while True:
            pages += 1
            if paging is not None and pages > paging.max_pages:
                raise HttpApiError(
                    self.system,
                    f"{label}: more than {paging.max_pages} pages; raise pagination.max_pages "
                    "if the API really holds that many records",
                    retryable=False,
                )
            built = self._build(request, values, label, page=position, url=link)
            response = self.send(built, label)
            if response.status_code in GONE or response.status_code == 204:
                return
            self.raise_for_status(response, label)
            body = self._json(response, label)
            records = self._at_data_path(body, request.data_path, label)
            yield from records
            if isinstance(paging, OffsetPagination):
                if len(records) < paging.limit:
                    return
                position = (position if isinstance(position, int) else 0) + paging.limit
            elif isinstance(paging, PagePagination):
                if not records or (paging.size is not None and len(records) < paging.size):
                    return
                position = (position if isinstance(position, int) else paging.first_page) + 1
            elif isinstance(paging, CursorPagination):
                position = self._cursor(body, paging, cursors, label) if records else None
                if position is None:
                    return
            elif isinstance(paging, LinkPagination):
                link = self._next_link(response, paging.rel, label)
                if link is None:
                    return
            else:
                return

    def _cursor(
        self, body: Any, paging: CursorPagination, seen: set[str], label: str
    ) -> int | str | None:
        cursor = get_path(body, paging.cursor_path) if isinstance(body, dict) else None
        if cursor is None or cursor == "":
            return None
        if not isinstance(cursor, str | int) or isinstance(cursor, bool):
            raise self._shape(label, f"{paging.cursor_path} is not a cursor")
        if str(cursor) in seen:
            raise self._shape(label, f"the API gave the cursor at {paging.cursor_path} twice")
        seen.add(str(cursor))
        return cursor

    def _next_link(self, response: httpx.Response, rel: str, label: str) -> httpx.URL | None:
        target = response.links.get(rel, {}).get("url")
        if not target:
            return None
        url = response.url.join(target)
        base = self._client.base_url
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            # Following it would hand the credentials to another server.
            raise self._shape(label, f"the rel={rel} link leads to another server")
        return url

    def _build(
        self,
        request: RequestSpec,
        values: Mapping[str, Any],
        label: str,
        *,
        path_values: Mapping[str, Any] | None = None,
        page: int | str | None = None,
        url: httpx.URL | None = None,
    ) -> httpx.Request:
        try:
            path = render_text(request.path, path_values or values, in_path=True)
            params = _query(request, values)
            headers = {name: render_text(text, values) for name, text in request.headers.items()}
            body = render_json(request.body, values)
        except KeyError as exc:
            raise ConnectorError(
                self.system, f"{label}: no value for {{{exc.args[0]}}}", retryable=False
            ) from None
        if url is not None:
            # A next-page link carries its own query; its method and body stay the same.
            return self._client.build_request(request.method, url, headers=headers, json=body)
        paging = request.pagination if isinstance(request, ReadRequest) else None
        if paging is not None and not isinstance(paging, LinkPagination):
            target = body if paging.location == "body" else params
            target.update(_page_params(paging, page))
        return self._client.build_request(
            request.method, path, params=params, headers=headers, json=body
        )

    def send(self, request: httpx.Request, label: str, *, signed: bool = True) -> httpx.Response:
        try:
            if signed:
                return self._client.send(request)
            return self._client.send(request, auth=None)
        except httpx.TimeoutException:
            raise HttpApiError(
                self.system,
                f"{label}: no answer within {self._config.timeout_seconds:g} s",
                retryable=True,
            ) from None
        except httpx.TransportError as exc:
            raise HttpApiError(
                self.system,
                f"{label}: could not reach the API ({type(exc).__name__}: {self._scrub(exc)})",
                retryable=True,
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise HttpApiError(
                self.system, f"{label}: {type(exc).__name__}: {self._scrub(exc)}", retryable=False
            ) from None

    def _send_token(self, request: httpx.Request) -> httpx.Response:
        label = "OAuth2 token endpoint"
        # Unsigned, and without the API's own headers: only the client credentials go there.
        response = self.send(request, label, signed=False)
        if response.status_code in (400, 401):
            raise HttpApiError(
                self.system,
                f"the {label} refused the client credentials ({response.status_code})",
                retryable=False,
                status=response.status_code,
            )
        self.raise_for_status(response, label)
        return response

    def raise_for_status(self, response: httpx.Response, label: str) -> None:
        status = response.status_code
        if status < 300:
            return
        retryable = status in (408, 429) or status >= 500
        if status < 400:
            why = "redirects elsewhere; set base_url to the API's own address"
        elif status == 401:
            why = "refused the credentials"
        elif status == 403:
            why = "denied access: check what the credentials may do"
        elif retryable:
            why = "is unavailable for now"
        else:
            why = "rejected the request"
        raise HttpApiError(
            self.system,
            f"{label}: {why} ({status} {response.reason_phrase})".replace(" )", ")"),
            retryable=retryable,
            status=status,
            retry_after=_retry_after(response) if retryable else None,
        )

    def _json(self, response: httpx.Response, label: str) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            raise self._shape(label, f"the response is not JSON ({kind})") from None

    def _at_data_path(self, body: Any, data_path: str, label: str) -> list[dict[str, Any]]:
        value = body
        walked: list[str] = []
        for part in data_path.split(".") if data_path else ():
            walked.append(part)
            if not isinstance(value, dict) or part not in value:
                raise self._shape(label, f"the response has no {'.'.join(walked)} (data_path)")
            value = value[part]
        where = f"data_path {data_path}" if data_path else "the response body"
        if value is None:
            return []
        if isinstance(value, dict):
            return [value]
        if not isinstance(value, list):
            raise self._shape(label, f"{where} is {_json_kind(value)}, not records")
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self._shape(label, f"{where}[{index}] is {_json_kind(item)}, not a record")
        return value

    def _shape(self, label: str, what: str) -> HttpApiError:
        return HttpApiError(self.system, f"{label}: {what}", retryable=False)

    def _scrub(self, error: object) -> str:
        text = str(error)
        for secret in self._auth.secrets() if self._auth is not None else ():
            if secret:
                text = text.replace(secret, "***")
        return text[:300]


def _query(request: RequestSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    style = request.list_style if isinstance(request, ReadRequest) else "repeat"
    params: dict[str, Any] = {}
    for name, template in request.query.items():
        placeholder = whole_placeholder(template)
        if placeholder is None:
            params[name] = render_text(template, values) if isinstance(template, str) else template
            continue
        value = values[placeholder]
        if isinstance(value, list):
            texts = [as_text(item) for item in value]
            params[name] = texts if style == "repeat" else ",".join(texts)
        else:
            params[name] = as_text(value)
    return params


def _page_params(
    paging: OffsetPagination | PagePagination | CursorPagination, page: int | str | None
) -> dict[str, Any]:
    if isinstance(paging, OffsetPagination):
        return {paging.limit_param: paging.limit, paging.offset_param: page or 0}
    if isinstance(paging, PagePagination):
        found: dict[str, Any] = {paging.page_param: paging.first_page if page is None else page}
        if paging.size_param is not None and paging.size is not None:
            found[paging.size_param] = paging.size
        return found
    return {} if page is None else {paging.cursor_param: page}


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds, given as seconds or as an HTTP date (RFC 9110 10.2.3)."""
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return max(0.0, (moment - dt.datetime.now(dt.UTC)).total_seconds())


def _json_kind(value: Any) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "true or false"}
    return "a list" if isinstance(value, list) else names.get(type(value), "an object")
