"""Optional dependencies: import them where they are used, and say which extra brings them.

Lives in ``detectors`` (the bottom layer) so detectors, the registry, Ray jobs and the
dashboard share one helper. The command line turns :class:`MissingDependencyError` into one
line naming the extra to install, and exit code 2.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; ``extra`` names the provreg extra bringing it."""

    def __init__(self, module: str, extra: str, feature: str = "") -> None:
        what = f"{feature} needs" if feature else "needs"
        super().__init__(
            f"{what} the Python module {module!r}, which is not installed", name=module
        )
        self.module = module
        self.extra = extra
        self.hint = f"install provreg[{extra}] (pip install -c constraints.txt 'provreg[{extra}]')"


def require(module: str, *, extra: str, feature: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``extra``.

    Only a missing module (or one of its own missing imports) is translated; any other error
    raised while importing is a bug and propagates as is.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(exc.name or module, extra, feature) from exc


def check_installed(module: str, *, extra: str, feature: str = "") -> None:
    """Raise :class:`MissingDependencyError` unless ``module`` is importable, without importing it.

    For programs started in another process (``streamlit run``), where an import here would
    only cost time.
    """
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingDependencyError(module, extra, feature)
