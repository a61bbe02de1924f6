"""``provreg media …``: what the media store holds, legal deletion, retention (docs/media.md).

Plugged in through the ``provreg.commands`` entry-point group.
"""

from __future__ import annotations

import getpass
import json

import click

from registry.cli.context import Context


def _operator() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


@click.group()
def media() -> None:
    """The media store: originals and thumbnails of ingested assets."""


@media.command("stats")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per kind.")
@click.pass_obj
def media_stats(obj: Context, as_json: bool) -> None:
    """Objects and bytes the store holds, and how many were deleted, per kind."""
    from registry.media import admin
    from registry.media.policy import MediaPolicy

    registry = obj.registry(migrate=True)
    with registry.sessions() as session:
        rows = admin.stats(session)
    url = MediaPolicy.parse(obj.settings.media, obj.settings.home).url
    for row in rows:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "kind": row.kind,
                        "stored": row.stored,
                        "stored_bytes": row.stored_bytes,
                        "deleted": row.deleted,
                        "url": url,
                    },
                    separators=(",", ":"),
                )
            )
        else:
            click.echo(
                f"{row.kind:<10} {row.stored:>8} stored  {row.stored_bytes:>14} bytes  "
                f"{row.deleted:>6} deleted"
            )
    if not as_json:
        click.echo(f"store: {url}")


@media.command("delete")
@click.argument("sha256")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@click.option(
    "--drop-hash", is_flag=True, help="Also drop the asset's PDQ hash from the archive index."
)
@click.option("--by", "actor", default=None, help="Who orders it (default: the OS user).")
@click.pass_obj
def media_delete(
    obj: Context, sha256: str, reason: str, drop_hash: bool, actor: str | None
) -> None:
    """Delete an asset's stored media for a legal reason; the ledger stays verifiable."""
    from registry.media import admin, store_for

    registry = obj.registry(migrate=True)
    with registry.sessions.begin() as session:
        done = admin.delete_media(
            session,
            store_for(obj.settings),
            sha256,
            reason=reason,
            actor=actor or _operator(),
            drop_hash=drop_hash,
        )
    click.echo(
        f"deleted media of {done.sha256}: {done.objects_removed} object(s) removed; "
        f"audit entry {done.audit_id}; the ledger is unchanged"
    )


@media.command("gc")
@click.pass_obj
def media_gc(obj: Context) -> None:
    """Apply retention: remove originals older than their source's retain_days."""
    from registry.media import admin, store_for
    from registry.media.policy import MediaPolicy

    registry = obj.registry(migrate=True)
    policy = MediaPolicy.parse(obj.settings.media, obj.settings.home)
    with registry.sessions.begin() as session:
        removed = admin.collect(session, store_for(obj.settings), policy, actor=_operator())
    click.echo(f"retention: {removed} original(s) removed")
