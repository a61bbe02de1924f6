"""`provreg dashboard`: run the Streamlit app against the configured database.

Registered through the ``provreg.commands`` entry-point group, so ``registry`` never imports
``dashboard``. Settings travel to the app through the environment (``PROVREG_*``), which the
app reads once per session with ``Settings.from_env()``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from detectors.optional import check_installed

APP = Path(__file__).with_name("app.py")


def streamlit_command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line: headless, no usage stats, no file watcher, no
    error details (tracebacks, hosts, paths) shown to visitors, XSRF protection on."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "minimal",
        "--client.showErrorDetails",
        "none",
        "--server.enableXsrfProtection",
        "true",
    ]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8501, show_default=True, type=int, help="Port to listen on.")
def dashboard(host: str, port: int) -> None:
    """Start the investigator dashboard (Streamlit) against the configured database."""
    check_installed("streamlit", extra="dashboard", feature="provreg dashboard")
    env = dict(os.environ)
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    click.echo(f"provreg dashboard on http://{host}:{port}", err=True)
    command = streamlit_command(host, port)
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process rather than wrap it: a supervisor's SIGTERM (systemd, Kubernetes, a
    # test fixture) then reaches the server itself instead of orphaning a running child.
    try:
        os.execve(command[0], command, env)
    except OSError as exc:
        raise click.ClickException(f"could not start Streamlit: {exc}") from exc
