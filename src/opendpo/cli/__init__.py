"""The `opendpo` command: a thin shell over the domain services."""

from __future__ import annotations

import click

from opendpo import __version__
from opendpo.cli.apikeys import apikeys
from opendpo.cli.audit import audit_group
from opendpo.cli.calendar import calendar_group
from opendpo.cli.consent import consent_group
from opendpo.cli.db import db
from opendpo.cli.demo import demo_group
from opendpo.cli.execution import requests_group  # with the execution commands attached
from opendpo.cli.keys import keys
from opendpo.cli.policy import policy
from opendpo.cli.ropa import ropa
from opendpo.cli.serve import serve
from opendpo.cli.settings import settings_command
from opendpo.cli.state import CliState
from opendpo.cli.systems import systems_group
from opendpo.cli.users import users
from opendpo.cli.worker import worker_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="opendpo")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """OpenDPO: the privacy notice held as code, every promise in it enforced.

    Settings come from OPENDPO_* environment variables; `opendpo settings` lists them.
    """
    ctx.ensure_object(CliState)


cli.add_command(policy)
cli.add_command(db)
cli.add_command(ropa)
cli.add_command(serve)
cli.add_command(settings_command)
cli.add_command(keys)
cli.add_command(users)
cli.add_command(apikeys)
cli.add_command(audit_group)
cli.add_command(consent_group)
cli.add_command(calendar_group)
cli.add_command(requests_group)
cli.add_command(systems_group)
cli.add_command(worker_command)
cli.add_command(demo_group)


def main() -> None:
    cli(prog_name="opendpo")
