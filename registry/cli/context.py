"""The typed context every ``provreg`` command receives (``click.pass_obj``).

Its own module so that command plugins (``ray_jobs.cli``, the model store and watermark
commands) depend on the context, not on the command-line module itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from registry.cli.summary import HomeSnapshot
from registry.errors import NotInitialisedError
from registry.settings import Settings

if TYPE_CHECKING:
    from registry.app import Registry


class Context:
    """Lazily opened services shared by subcommands."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._registry: Registry | None = None

    def registry(self, *, migrate: bool = False) -> Registry:
        """The registry; ``migrate`` applies the migrations, else the schema must exist."""
        if self._registry is None:
            from registry.app import Registry

            before = HomeSnapshot.take(self.settings)
            registry = Registry.open(self.settings, migrate=migrate)
            if not migrate and not registry.schema_ready():
                registry.close()
                raise NotInitialisedError("the database has no provreg schema yet")
            self._registry = registry
            context = click.get_current_context(silent=True)
            if context is not None:
                context.call_on_close(lambda: self._announce(before))
        return self._registry

    def _announce(self, before: HomeSnapshot) -> None:
        """Say on stderr what this command created (embedded database, signing key)."""
        for line in before.created(self.settings):
            click.echo(f"first run: {line}", err=True)
