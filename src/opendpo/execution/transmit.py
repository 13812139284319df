"""Sending a portability package straight to another controller (UK GDPR Art 20(2)).

The package (or only its `data.json`, for endpoints that take JSON) is streamed from the store
to the destination in one POST: bounded memory whatever its size, with the byte count and
SHA-256 of what was sent kept as the receipt. Personal data leaves only over TLS: a plain
http:// address is refused unless the caller passes `allow_insecure` (tests, a loopback
relay), and redirects are not followed, so the data goes to the address given and nowhere
else.

The receipt keeps the receiver's own reference for what it took when it gives one.
A failure says whether trying again may help: timeouts, lost connections, 5xx, 429 and 408
may pass; any other answer (a 4xx, a redirect) needs a person to look at the address.

`package_member` streams one member out of a zip that `write_package` wrote, reading the
zip front to back (it was written to a stream that could not seek, so each member's sizes
follow its data): `data.json` comes first and is ready after its own bytes.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import httpx

from opendpo.errors import DomainError, InvalidValue

RETRYABLE_STATUS = frozenset({408, 429})
LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
LOCAL_SIGNATURE = b"PK\x03\x04"
DESCRIPTOR_SIGNATURE = b"PK\x07\x08"
ZIP64_EXTRA = 0x0001
DEFLATED = 8
HAS_DESCRIPTOR = 0x08
INFLATE_CHUNK = 256 * 1024


MAX_REFERENCE = 200


@dataclass(frozen=True)
class Receipt:
    status: int
    bytes_sent: int
    sha256: str
    reference: str | None = None  # the receiver's own id for what it took, if it gave one


class TransmitFailed(DomainError):
    """The destination did not take the package; `retryable`: trying later may help."""

    code = "transmit_failed"

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class PackageUnreadable(DomainError):
    code = "package_unreadable"


def check_destination(url: str, *, allow_insecure: bool = False) -> httpx.URL:
    """The address as httpx reads it; InvalidValue naming `url` if it may not be used."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidValue("url", f"is not a web address: {exc}") from None
    allowed = ("https", "http") if allow_insecure else ("https",)
    if parsed.scheme not in allowed:
        raise InvalidValue("url", "must be an https:// address: personal data goes over TLS")
    if not parsed.host:
        raise InvalidValue("url", "names no host")
    return parsed


def receiver_reference(response: httpx.Response) -> str | None:
    """The receiver's id for the import: `reference` or `id` in a JSON answer, else the
    Location it names; None when it gives neither."""
    found: object = None
    if "json" in response.headers.get("content-type", ""):
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            found = body.get("reference") or body.get("id")
    if not isinstance(found, str | int) or isinstance(found, bool):
        found = response.headers.get("location")
    return str(found)[:MAX_REFERENCE] if found not in (None, "") else None


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("retry-after", "")
    return int(value) if value.isdigit() else None


def transmit(
    stream: Iterable[bytes],
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    content_type: str = "application/zip",
    content_length: int | None = None,
    allow_insecure: bool = False,
    client: httpx.Client | None = None,
) -> Receipt:
    """POST `stream` to `url`; the receipt, or TransmitFailed.

    With `content_length` the body goes with a Content-Length (some endpoints insist);
    otherwise chunked. `client` reuses a connection pool (and its TLS settings).
    """
    destination = check_destination(url, allow_insecure=allow_insecure)
    digest = hashlib.sha256()
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        for chunk in stream:
            digest.update(chunk)
            sent += len(chunk)
            yield chunk

    request_headers = {**(headers or {}), "content-type": content_type}
    if content_length is not None:
        request_headers["content-length"] = str(content_length)
    http = client or httpx.Client(timeout=timeout)
    where = destination.host
    try:
        response = http.post(destination, content=body(), headers=request_headers, timeout=timeout)
    except httpx.TimeoutException:
        raise TransmitFailed(
            f"{where} did not answer within {timeout:g} s", retryable=True
        ) from None
    except httpx.TransportError as exc:
        raise TransmitFailed(f"{where} could not be reached: {exc}", retryable=True) from None
    finally:
        if client is None:
            http.close()
    status = response.status_code
    if response.is_success:
        return Receipt(
            status=status,
            bytes_sent=sent,
            sha256=digest.hexdigest(),
            reference=receiver_reference(response),
        )
    if response.is_redirect:
        target = response.headers.get("location", "elsewhere")
        raise TransmitFailed(
            f"{where} redirected to {target}: give the address it names", retryable=False
        )
    retryable = status >= 500 or status in RETRYABLE_STATUS
    raise TransmitFailed(
        f"{where} refused the package: HTTP {status}",
        retryable=retryable,
        status=status,
        retry_after=_retry_after(response),
    )


class _Bytes:
    """A byte stream over chunks, read exactly or chunk by chunk, with what was read ahead."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._ahead = b""

    def chunk(self) -> bytes:
        if self._ahead:
            data, self._ahead = self._ahead, b""
            return data
        for data in self._chunks:
            if data:
                return data
        raise PackageUnreadable("the package ends in the middle of a member")

    def exactly(self, size: int) -> bytes:
        parts = [self._ahead]
        have = len(self._ahead)
        self._ahead = b""
        while have < size:
            data = self.chunk()
            parts.append(data)
            have += len(data)
        joined = b"".join(parts)
        self._ahead = joined[size:]
        return joined[:size]

    def unread(self, data: bytes) -> None:
        self._ahead = data + self._ahead


def _inflate(source: _Bytes) -> Iterator[bytes]:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    while not inflater.eof:
        data = inflater.unconsumed_tail or source.chunk()
        out = inflater.decompress(data, INFLATE_CHUNK)
        if out:
            yield out
    source.unread(inflater.unused_data)


def _zip64(extra: bytes) -> bool:
    offset = 0
    while offset + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, offset)
        if kind == ZIP64_EXTRA:
            return True
        offset += 4 + size
    return False


def package_member(chunks: Iterable[bytes], name: str) -> Iterator[bytes]:
    """The bytes of member `name` of a package zip, streamed; PackageUnreadable if absent
    or damaged. Members before it are read through (each is inflated to find its end)."""
    source = _Bytes(chunks)
    while True:
        head = source.exactly(LOCAL_HEADER.size)
        if head[:4] != LOCAL_SIGNATURE:
            raise PackageUnreadable(f"the package has no member {name}")
        fields = LOCAL_HEADER.unpack(head)
        flags, method, crc = fields[3], fields[4], fields[7]
        member = source.exactly(fields[10]).decode("utf-8")
        extra = source.exactly(fields[11])
        if method != DEFLATED:
            raise PackageUnreadable(f"{member} is not compressed as packages are")
        found = 0
        for data in _inflate(source):
            found = zlib.crc32(data, found)
            if member == name:
                yield data
        if flags & HAS_DESCRIPTOR:
            marker = source.exactly(4)
            crc_bytes = source.exactly(4) if marker == DESCRIPTOR_SIGNATURE else marker
            crc = struct.unpack("<L", crc_bytes)[0]
            source.exactly(16 if _zip64(extra) else 8)  # the sizes
        if found != crc:
            raise PackageUnreadable(f"{member} does not match its checksum")
        if member == name:
            return
