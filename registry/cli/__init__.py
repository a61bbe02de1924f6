"""The ``provreg`` command line: the root group (``root.py``) and one module per command group."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.cli.root import main, run

__all__ = ["main", "run"]


def __getattr__(name: str) -> Any:
    # Imported on first use: command plugins (registry.cli.<group>) and ray_jobs import the
    # context and the errors from this package without loading the whole command line.
    if name in __all__:
        from registry.cli import root

        return getattr(root, name)
    raise AttributeError(f"module 'registry.cli' has no attribute {name!r}")
