"""A click group that imports its subcommands only when one is invoked.

``provreg --help`` and the commands that need neither Ray nor torch must start quickly, so
no subcommand module is imported until it is needed: built-in groups kept in their own
modules are named by import path, plugin commands (``ray_jobs``, ``dashboard``, third
parties) by the ``provreg.commands`` entry-point group. The top-level help lists each lazy
command with a summary given here (for third-party commands without one, the command is
imported to ask it); ``tests/registry/test_cli_startup.py`` checks that help is the same with every
command imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points

import click

from registry.errors import CommandClashError

COMMAND_GROUP = "provreg.commands"


class LazyGroup(click.Group):
    """A :class:`click.Group` with subcommands imported on first use.

    ``lazy`` maps a command name to ``"module:attribute"``; ``summaries`` maps a lazy command
    name to its short help (as ``get_short_help_str`` would give it untruncated), shown by
    ``--help`` without importing the command. Entry points in the
    ``provreg.commands`` group are added after the built-in names; a plugin that claims a
    built-in name, or two plugins that claim one name, raise
    :class:`~registry.errors.CommandClashError` (as detectors do), never one silently
    shadowing the other.
    """

    def __init__(
        self,
        *args: object,
        lazy: Mapping[str, str] | None = None,
        summaries: Mapping[str, str] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy: dict[str, str] = dict(lazy or {})
        self.summaries: dict[str, str] = dict(summaries or {})
        self._plugins: dict[str, EntryPoint] | None = None

    def plugins(self) -> dict[str, EntryPoint]:
        """Commands registered by other packages, by name (read once, imports nothing)."""
        if self._plugins is None:
            found: dict[str, EntryPoint] = {}
            for entry_point in entry_points(group=COMMAND_GROUP):
                name = entry_point.name
                if name in self.commands or name in self.lazy:
                    raise CommandClashError(
                        f"command {name!r} of {entry_point.value} clashes with the built-in "
                        f"provreg {name}"
                    )
                previous = found.get(name)
                if previous is not None and previous.value != entry_point.value:
                    raise CommandClashError(
                        f"command {name!r} is registered by both {previous.value} and "
                        f"{entry_point.value}"
                    )
                found[name] = entry_point  # the same distribution seen twice is no clash
            self._plugins = found
        return self._plugins

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy, *self.plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is not None:
            return command
        if cmd_name in self.lazy:
            module_name, _, attribute = self.lazy[cmd_name].partition(":")
            loaded = getattr(importlib.import_module(module_name), attribute)
            where = self.lazy[cmd_name]
        elif cmd_name in self.plugins():
            entry_point = self.plugins()[cmd_name]
            loaded = entry_point.load()
            where = entry_point.value
        else:
            return None
        if not isinstance(loaded, click.Command):
            raise click.ClickException(f"{where} is not a click command")
        self.add_command(loaded, cmd_name)
        return loaded

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, with summaries for lazy commands that are not imported yet."""
        rows: list[tuple[str, str]] = []
        limit = formatter.width - 6 - max((len(n) for n in self.list_commands(ctx)), default=0)
        for name in self.list_commands(ctx):
            if name not in self.commands and name in self.summaries:
                # A stand-in command shortens the summary exactly as the real one would.
                stand_in = click.Command(name, help=self.summaries[name])
                rows.append((name, stand_in.get_short_help_str(limit)))
                continue
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
