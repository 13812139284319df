"""The YAML description of an HTTP API: where each collection's records live, how to change them.

A system's `connection` block holds where the API is and how to sign in; the description of its
endpoints sits beside them, or in a file of its own named by `spec_file` (a path relative to
the policy's folder; the policy loader makes it absolute when the policy is loaded). The
shape follows Fides' SaaS connector config where that is natural (`test_request` is `check`,
`endpoints[].requests` are `collections`, `<param>` placeholders are written `{param}`):

    type: http
    base_url: https://api.crm.example/v2
    auth:
      type: oauth2_client_credentials
      token_url: https://auth.crm.example/oauth/token
      client_id: opendpo
      client_secret_env: CRM_CLIENT_SECRET
      scope: contacts
    params: {account: acme}              # constants any template may use: {account}
    check: {path: /me}                   # what `opendpo systems check` calls
    collections:
      contacts:                          # a collection of the system's dataset
        fields:                          # dataset field -> path in the API's record
          name.first: first_name
          marketing_opt_in: preferences.marketing
        read:                            # one request per field a lookup can start from
          - path: /contacts
            query: {email: "{email}"}
            data_path: data              # where the list of records is in the response
            pagination: {strategy: offset, limit: 100}
          - path: /contacts/{id}         # a single object is one record; 404 is no record
        update: {method: PATCH, path: "/contacts/{id}"}   # body: the changed fields
        delete: {path: "/contacts/{id}"}                  # 404 or 410: already gone
        restrict: {path: "/contacts/{id}/restriction", flag: restricted}
        unrestrict: {method: DELETE, path: "/contacts/{id}/restriction"}
      orders:
        read:
          - path: /orders
            query: {customer_email: "{customer_email}"}
            batch_size: 20               # customer_email=a&customer_email=b&... per call
            data_path: items
            pagination: {strategy: cursor, cursor_path: meta.next, cursor_param: after}

Placeholders name a dataset field of the collection (dotted for nested fields) or a `params`
entry; `{{` and `}}` are literal braces. In a path a value is percent-encoded; in a query or
body a string that is exactly one placeholder takes the value as it is (a number stays a
number), and `{changed_fields}` in a body stands for the changed fields, mapped as `fields`
says. Pagination strategies: `offset` (limit/offset parameters), `page` (a page number),
`cursor` (the next cursor from the response into a parameter) and `link` (RFC 8288
`Link: <...>; rel="next"`), each stopped at `max_pages`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from opendpo.connectors.http_templates import CHANGED_FIELDS, template_names
from opendpo.errors import InvalidValue


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiKey(_Model):
    type: Literal["api_key"]
    header: str | None = Field(default=None, description="Send the key in this header...")
    query_param: str | None = Field(default=None, description="...or in this query parameter.")
    value: SecretStr | None = None
    value_env: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> ApiKey:
        if (self.header is None) == (self.query_param is None):
            raise ValueError("give exactly one of header or query_param for the API key")
        return self


class Bearer(_Model):
    type: Literal["bearer"]
    token: SecretStr | None = None
    token_env: str | None = None


class Basic(_Model):
    type: Literal["basic"]
    username: str
    password: SecretStr | None = None
    password_env: str | None = None


class OAuth2ClientCredentials(_Model):
    type: Literal["oauth2_client_credentials"]
    token_url: str
    client_id: str
    client_secret: SecretStr | None = None
    client_secret_env: str | None = None
    scope: str | None = None
    audience: str | None = None
    # RFC 6749 2.3.1: HTTP Basic ("client_secret_basic") or form fields ("client_secret_post").
    client_auth: Literal["basic", "body"] = "basic"

    @field_validator("token_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return _http_url(value)


Auth = Annotated[ApiKey | Bearer | Basic | OAuth2ClientCredentials, Field(discriminator="type")]


class _Paged(_Model):
    max_pages: int = Field(default=1000, ge=1, description="Stop (with an error) after this.")


class OffsetPagination(_Paged):
    strategy: Literal["offset"]
    limit: int = Field(default=100, ge=1)
    limit_param: str = "limit"
    offset_param: str = "offset"
    location: Literal["query", "body"] = "query"


class PagePagination(_Paged):
    strategy: Literal["page"]
    page_param: str = "page"
    first_page: int = 1
    # With a size, a short page is the last; without, an empty page is.
    size: int | None = Field(default=None, ge=1)
    size_param: str | None = None
    location: Literal["query", "body"] = "query"


class CursorPagination(_Paged):
    strategy: Literal["cursor"]
    cursor_path: str = Field(description="Dotted path of the next cursor in the response.")
    cursor_param: str
    location: Literal["query", "body"] = "query"


class LinkPagination(_Paged):
    strategy: Literal["link"]
    rel: str = "next"


Pagination = Annotated[
    OffsetPagination | PagePagination | CursorPagination | LinkPagination,
    Field(discriminator="strategy"),
]

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


class RequestSpec(_Model):
    method: Method = "GET"
    path: str
    query: dict[str, str | int | float | bool] = {}
    headers: dict[str, str] = {}
    body: JsonValue = None

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if not value.startswith("/") or "?" in value or "#" in value:
            raise ValueError(
                f"{value!r} must be a path under base_url starting with '/' "
                "(query parameters go in `query`)"
            )
        return value

    @model_validator(mode="after")
    def _placeholders_parse(self) -> RequestSpec:
        for template in (self.path, *self.query.values(), self.body):
            if isinstance(template, str | dict | list):
                list(template_names(template))
        return self

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def names(self) -> set[str]:
        templates: list[JsonValue] = [self.path, self.body, *self.headers.values()]
        templates.extend(v for v in self.query.values() if isinstance(v, str))
        return {name for template in templates for name in template_names(template)}


class ReadRequest(RequestSpec):
    method: Literal["GET", "POST"] = "GET"
    data_path: str = Field(default="", description="Dotted path of the records; '' = the body.")
    pagination: Pagination | None = None
    # More than 1: the lookup placeholder, a whole query or body value, takes a list of values.
    batch_size: int = Field(default=1, ge=1, le=1000)
    list_style: Literal["repeat", "comma"] = "repeat"
    ignore_case: bool = Field(default=False, description="Match looked-up strings in any case.")

    @model_validator(mode="after")
    def _body_paging(self) -> ReadRequest:
        location = getattr(self.pagination, "location", "query")
        if location == "body" and not isinstance(self.body, dict):
            raise ValueError("pagination.location is body, so the request needs a JSON object body")
        return self


class UpdateRequest(RequestSpec):
    method: Literal["PATCH", "PUT", "POST"] = "PATCH"
    body: JsonValue = "{" + CHANGED_FIELDS + "}"


class DeleteRequest(RequestSpec):
    method: Literal["DELETE", "POST"] = "DELETE"


class RestrictRequest(RequestSpec):
    method: Method = "POST"
    flag: str = Field(description="The dataset field the engine sets to restrict the record.")


class CollectionEndpoints(_Model):
    fields: dict[str, str] = Field(default={}, description="Dataset field -> API record path.")
    read: list[ReadRequest] = Field(min_length=1)
    update: UpdateRequest | None = None
    delete: DeleteRequest | None = None
    restrict: RestrictRequest | None = None
    unrestrict: RequestSpec | None = None

    @field_validator("read", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    def requests(self) -> Iterator[tuple[str, RequestSpec]]:
        """(where in the description, request) for every request of the collection."""
        for index, read in enumerate(self.read):
            yield f"read[{index}]", read
        for name in ("update", "delete", "restrict", "unrestrict"):
            request = getattr(self, name)
            if request is not None:
                yield name, request

    def api_path(self, field: str) -> str:
        """Where a dataset field is in the API's record: mapped itself, under a mapped parent,
        or by the same name."""
        parts = field.split(".")
        for end in range(len(parts), 0, -1):
            mapped = self.fields.get(".".join(parts[:end]))
            if mapped is not None:
                return ".".join([mapped, *parts[end:]])
        return field


class HttpApiSpec(_Model):
    """What a `spec_file` holds: the endpoints, without the address or the secrets."""

    check: RequestSpec | None = None
    collections: dict[str, CollectionEndpoints] = {}


class HttpConnection(_Model):
    type: Literal["http"]
    base_url: str
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    verify_tls: bool = True
    ca_file: Path | None = Field(default=None, description="PEM bundle to trust instead.")
    auth: Auth | None = None
    headers: dict[str, str] = {}
    params: dict[str, str | int] = {}
    spec_file: Path | None = None
    check: RequestSpec | None = None
    collections: dict[str, CollectionEndpoints] = {}

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        return _http_url(value).rstrip("/")

    @model_validator(mode="after")
    def _described_once(self) -> HttpConnection:
        if self.spec_file is not None and (self.collections or self.check is not None):
            raise ValueError("describe the endpoints inline or in spec_file, not both")
        if self.spec_file is None and not self.collections:
            raise ValueError("describe the API's collections inline (collections) or in spec_file")
        return self

    def anchored(self, folder: Path) -> HttpConnection:
        """This connection with `spec_file` resolved against `folder` (the policy's)."""
        if self.spec_file is None or self.spec_file.is_absolute():
            return self
        return self.model_copy(update={"spec_file": (folder / self.spec_file).resolve()})


def load_spec(connection: HttpConnection) -> HttpApiSpec:
    """The endpoint description, inline or read from `spec_file`; InvalidValue if it is wrong."""
    if connection.spec_file is None:
        return HttpApiSpec(check=connection.check, collections=connection.collections)
    path = connection.spec_file
    if not path.is_absolute():
        raise InvalidValue("spec_file", f"{path} is relative: anchor it to the policy's folder")
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidValue("spec_file", f"cannot read {path}: {exc.strerror}") from None
    except YAMLError as exc:
        raise InvalidValue("spec_file", f"{path} is not valid YAML: {exc}") from None
    try:
        return HttpApiSpec.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'top level'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidValue("spec_file", f"{path}: {problems}") from None


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/?#\s]+", value) or "#" in value or "?" in value:
        raise ValueError(f"{value!r} is not an http(s) URL without query or fragment")
    return value
