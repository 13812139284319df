"""`opendpo serve`: run the web server (privacy centre, console, API)."""

from __future__ import annotations

import click
import uvicorn

from opendpo.cli.state import CliState, pass_state
from opendpo.errors import DomainError
from opendpo.logs import configure_logging


@click.command()
@click.option("--host", default=None, help="Listen address (default: OPENDPO_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: OPENDPO_PORT).")
@click.option(
    "--proxy-headers/--no-proxy-headers",
    default=True,
    show_default=True,
    help="Take the client address and scheme from X-Forwarded-For and X-Forwarded-Proto, "
    "when the request comes from a trusted proxy (--forwarded-allow-ips).",
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    metavar="ADDRESSES",
    help="Comma-separated addresses of the reverse proxies whose forwarded headers are "
    "trusted, or '*' for any (only if nothing else can reach this port). "
    "Default: $FORWARDED_ALLOW_IPS, else 127.0.0.1.",
)
@pass_state
def serve(
    state: CliState,
    host: str | None,
    port: int | None,
    proxy_headers: bool,
    forwarded_allow_ips: str | None,
) -> None:
    """Serve the privacy centre at / and the staff console at /console/.

    Behind a reverse proxy that terminates TLS, set OPENDPO_BASE_URL=https://... and pass the
    proxy's address with --forwarded-allow-ips, so that rate limits and the audit log see each
    visitor's own address.
    """
    settings = state.settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    host = host or settings.host
    port = port or settings.port
    base = f"http://{host}:{port}"
    click.echo(f"privacy centre: {base}/")
    click.echo(f"staff console:  {base}/console/")
    click.echo(f"API reference:  {base}/api/v1/docs")
    if settings.demo:
        click.echo(
            "demo mode: sign in to the console as 'dpo' with the one-time password printed "
            "when the account was made (`opendpo users reset-password dpo` prints a new one)"
        )
    # Imported here so that commands which never serve don't pay for loading the web stack.
    from opendpo.web.app import create_app

    try:
        app = create_app(settings)
    except DomainError as exc:  # e.g. no encryption keys: say so, never a traceback
        raise click.ClickException(exc.message) from None
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=proxy_headers,
        # None lets uvicorn read $FORWARDED_ALLOW_IPS, falling back to 127.0.0.1.
        forwarded_allow_ips=forwarded_allow_ips,
    )
