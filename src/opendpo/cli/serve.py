"""`opendpo serve`: run the web server (privacy centre, console, API)."""

from __future__ import annotations

import click
import uvicorn

from opendpo.cli.state import CliState, pass_state
from opendpo.logs import configure_logging


@click.command()
@click.option("--host", default=None, help="Listen address (default: OPENDPO_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: OPENDPO_PORT).")
@pass_state
def serve(state: CliState, host: str | None, port: int | None) -> None:
    """Serve the privacy centre at / and the staff console at /console/."""
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
            "demo mode: the console has no staff accounts yet and is open to this machine "
            "only; sign-in arrives with the security foundation"
        )
    # Imported here so that commands which never serve don't pay for loading the web stack.
    from opendpo.web.app import create_app

    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
