"""A private, throwaway PostgreSQL cluster (``initdb``/``pg_ctl`` in a temporary folder on a
free port) for benchmarks that stop and restart the server: the shared server is never
touched. Its databases are made by :class:`registry.testing.scratch_db.PostgresAdmin`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from registry.testing.scratch_db import PostgresAdmin


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivatePostgres:
    """A throwaway PostgreSQL cluster in a temporary folder, on a free port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self.log = root / "postgres.log"

    def init(self) -> None:
        """initdb (trust auth, user postgres) and start."""
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            _as_postgres(["initdb", "-A", "trust", "-U", "postgres", "-D", str(self.data)]),
            check=True,
            capture_output=True,
        )
        self.start()

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres(
                ["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "120", *args]
            ),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        """Start the server (waits until it accepts connections)."""
        self._ctl(
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200",
            "start",
        )

    def stop(self) -> None:
        """Stop it fast (open connections are cut, as on a crash or restart)."""
        self._ctl("-m", "fast", "stop")

    def restart(self) -> None:
        """Restart it fast."""
        self._ctl(
            "-m",
            "fast",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200",
            "restart",
        )

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create(self, name: str) -> str:
        """A new database, migrated to head; returns its URL."""
        admin = PostgresAdmin(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")
        return admin.create_migrated(name)

    def destroy(self) -> None:
        """Stop it (if running) and remove its folder."""
        subprocess.run(
            _as_postgres(["pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)
