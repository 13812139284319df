"""Sending a portability package to another controller's endpoint, run locally: streamed,
over TLS (plain HTTP only when allowed), with a receipt, and failures that say whether to
try again. And data.json read straight out of a stored package."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from package_sections import CUSTOMER_FIELDS, CUSTOMER_ROWS, CUSTOMERS, Rows, Unseekable, section
from package_servers import Answer, Endpoint, certificate, serving

from opendpo.errors import InvalidValue
from opendpo.execution.package import write_package
from opendpo.execution.transmit import (
    PackageUnreadable,
    TransmitFailed,
    package_member,
    transmit,
)

PACKAGE = bytes(range(256)) * 400  # 100 KiB


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_package_is_streamed_over_tls_with_a_receipt(tmp_path: Path) -> None:
    server_tls, client_tls = certificate(tmp_path)
    with (
        serving(Endpoint(), tls=server_tls) as endpoint,
        httpx.Client(verify=client_tls) as client,
    ):
        receipt = transmit(
            pieces(PACKAGE, 16 * 1024),
            url=endpoint.url,
            headers={"authorization": "Bearer import-token"},
            timeout=5,
            client=client,
        )
    assert (receipt.status, receipt.bytes_sent) == (201, len(PACKAGE))
    assert receipt.sha256 == hashlib.sha256(PACKAGE).hexdigest()
    [received] = endpoint.received
    assert received.path == "/v1/imports"
    assert received.body == PACKAGE
    assert received.headers["transfer-encoding"] == "chunked"  # never held whole
    assert received.headers["content-type"] == "application/zip"
    assert received.headers["authorization"] == "Bearer import-token"


def test_a_known_length_is_sent_as_content_length() -> None:
    with serving(Endpoint(Answer(200))) as endpoint:
        receipt = transmit(
            pieces(PACKAGE, 4096),
            url=endpoint.url,
            timeout=5,
            content_type="application/json",
            content_length=len(PACKAGE),
            allow_insecure=True,
        )
    assert receipt.status == 200
    [received] = endpoint.received
    assert received.headers["content-length"] == str(len(PACKAGE))
    assert "transfer-encoding" not in received.headers
    assert received.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("url", "allow_insecure", "problem"),
    [
        ("http://controller.example/import", False, "must be an https:// address"),
        ("ftp://controller.example/import", True, "must be an https:// address"),
        ("https:///import", False, "names no host"),
        ("https://[::1", False, "is not a web address"),
        ("not an address", False, "must be an https:// address"),
    ],
)
def test_addresses_that_may_not_be_used_are_refused_before_anything_is_sent(
    url: str, allow_insecure: bool, problem: str
) -> None:
    read = []

    def stream() -> Iterator[bytes]:
        read.append(True)
        yield PACKAGE

    with pytest.raises(InvalidValue) as raised:
        transmit(stream(), url=url, timeout=1, allow_insecure=allow_insecure)
    assert raised.value.field == "url"
    assert problem in raised.value.detail
    assert read == []


@pytest.mark.parametrize(
    ("answer", "retryable", "message"),
    [
        (Answer(503, {"retry-after": "120"}), True, "refused the package: HTTP 503"),
        (Answer(429), True, "refused the package: HTTP 429"),
        (Answer(400), False, "refused the package: HTTP 400"),
        (Answer(413), False, "refused the package: HTTP 413"),
        (
            Answer(302, {"location": "https://elsewhere.example/in"}),
            False,
            "redirected to https://elsewhere.example/in",
        ),
    ],
)
def test_a_refusal_says_whether_trying_again_may_help(
    answer: Answer, retryable: bool, message: str
) -> None:
    with serving(Endpoint(answer)) as endpoint, pytest.raises(TransmitFailed) as raised:
        transmit([PACKAGE], url=endpoint.url, timeout=5, allow_insecure=True)
    assert message in raised.value.message
    assert raised.value.retryable is retryable
    if answer.status == 503:
        assert (raised.value.status, raised.value.retry_after) == (503, 120)
    assert len(endpoint.received) == 1  # a redirect is not followed


def test_a_silent_or_absent_endpoint_may_be_tried_again() -> None:
    with (
        serving(Endpoint(Answer(201, delay=1.0))) as endpoint,
        pytest.raises(TransmitFailed, match=r"did not answer within 0\.2 s") as raised,
    ):
        transmit([PACKAGE], url=endpoint.url, timeout=0.2, allow_insecure=True)
    assert raised.value.retryable is True

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(TransmitFailed, match="could not be reached") as refused:
        transmit([PACKAGE], url=f"http://127.0.0.1:{port}/", timeout=2, allow_insecure=True)
    assert refused.value.retryable is True


def _package(seekable: bool) -> bytes:
    rows = Rows([dict(CUSTOMER_ROWS[0], id=n) for n in range(2000)])
    sections = [section("billing", "Billing", CUSTOMERS, CUSTOMER_FIELDS, rows)]
    if seekable:
        out = io.BytesIO()
        write_package(out, sections=sections, report=None, kind="portability")
        return out.getvalue()
    sink = Unseekable()
    write_package(sink, sections=sections, report=None, kind="portability")
    return sink.getvalue()


@pytest.mark.parametrize("seekable", [False, True])
def test_data_json_and_any_csv_are_read_straight_out_of_a_package(seekable: bool) -> None:
    package = _package(seekable)
    archive = zipfile.ZipFile(io.BytesIO(package))
    for name in ("data.json", "billing/customers.csv"):
        # Odd chunk sizes: headers and descriptors split across chunks.
        streamed = b"".join(package_member(pieces(package, 7), name))
        assert streamed == archive.read(name)
    rows = json.loads(b"".join(package_member([package], "data.json")))
    assert len(rows["systems"]["billing"]["collections"]["customers"]["rows"]) == 2000


def test_a_member_absent_or_damaged_is_reported() -> None:
    package = _package(False)
    with pytest.raises(PackageUnreadable, match=r"no member report\.html"):
        list(package_member([package], "report.html"))
    # The data descriptor's CRC of data.json, altered.
    descriptor = package.index(b"PK\x07\x08")
    damaged = package[: descriptor + 4] + b"\x00\x00\x00\x00" + package[descriptor + 8 :]
    with pytest.raises(PackageUnreadable, match=r"data\.json does not match its checksum"):
        list(package_member([damaged], "data.json"))
    with pytest.raises(PackageUnreadable, match="ends in the middle"):
        list(package_member([package[:200]], "data.json"))


def test_a_stored_package_goes_straight_to_the_endpoint_as_json() -> None:
    package = _package(False)
    with serving(Endpoint()) as endpoint:
        receipt = transmit(
            package_member(pieces(package, 1000), "data.json"),
            url=endpoint.url,
            timeout=5,
            content_type="application/json",
            allow_insecure=True,
        )
    [received] = endpoint.received
    expected = zipfile.ZipFile(io.BytesIO(package)).read("data.json")
    assert received.body == expected
    assert receipt.sha256 == hashlib.sha256(expected).hexdigest()
