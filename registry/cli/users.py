"""`provreg users`: dashboard accounts, run by an operator connected as the account-admin role
(``provreg_accounts`` in infra/postgres/roles.sql). Each account created is audited."""

from __future__ import annotations

import getpass
import json
import sys

import click

from registry.app import Registry
from registry.auth.accounts import AuthError, Identity, add_user, list_users, record_audit
from registry.db.models_auth import ROLES
from registry.settings import Settings


def _registry(ctx: click.Context) -> Registry:
    obj = ctx.obj
    if obj is not None and hasattr(obj, "registry"):
        registry: Registry = obj.registry(migrate=True)
        return registry
    return Registry.open(Settings.from_env(), migrate=True)


def _operator() -> str:
    """The operating-system user running the command (for the audit row)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


@click.group()
def users() -> None:
    """Dashboard users and roles (viewer, investigator, admin)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.pass_context
def users_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Add user NAME with ROLE; the password is prompted for (or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    registry = _registry(ctx)
    try:
        with registry.sessions.begin() as session:
            add_user(session, name, password, role)
            record_audit(
                session,
                Identity(_operator(), "operator"),
                "user_added",
                {"username": name, "role": role},
            )
    except AuthError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"added {role} {name}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """List users and their roles."""
    registry = _registry(ctx)
    with registry.sessions() as session:
        for user in list_users(session):
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "username": user.username,
                            "role": user.role,
                            "created_at": user.created_at.isoformat(),
                        }
                    )
                )
            else:
                click.echo(f"{user.username:24} {user.role}")
