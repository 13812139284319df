"""Security headers on every response: a strict content security policy, no sniffing, no framing.

Which headers depend on the settings and the path: HSTS only when the installation is served
over https, and `Cache-Control: no-store` only where responses carry personal data.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opendpo.settings import Settings

# Pages load scripts and styles from this server only, and never inline: the vendored assets
# and our own stylesheet are all there is.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

# No page here needs these, so no script injected into one may use them. `interest-cohort`
# (FLoC) is left out: Chromium withdrew it and reports the name as an error on every page.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), browsing-topics=()"

SECURITY_HEADERS = {
    "content-security-policy": PAGE_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": PERMISSIONS_POLICY,
}

# Two years, the preload list's minimum; sent only behind TLS, as browsers ignore it over http.
STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"

# Console pages and API responses carry personal data: no browser or proxy may keep a copy.
# The public notice is the same for everyone, so it stays cacheable.
NO_STORE_PREFIXES = ("/console/", "/api/")


def response_headers(settings: Settings, path: str) -> dict[str, str]:
    """Every security header a response to `path` carries under these settings."""
    headers = dict(SECURITY_HEADERS)
    if settings.behind_tls:
        headers["strict-transport-security"] = STRICT_TRANSPORT_SECURITY
    if path == "/console" or path.startswith(NO_STORE_PREFIXES):
        headers["cache-control"] = "no-store"
    return headers


class SecurityHeadersMiddleware:
    """Adds the security headers unless the route set its own (the API docs need a wider CSP).

    `Cache-Control: no-store` is the exception: it replaces whatever a route set, because a
    cached copy of personal data is never what a console or API route meant.
    """

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):  # mounted under a prefix: judge the app's own path
            path = path[len(root) :]
        wanted = response_headers(self.settings, path)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    if name == "cache-control":
                        headers[name] = value
                    else:
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
