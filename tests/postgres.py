"""A throwaway PostgreSQL cluster for tests: Debian's binaries, a temporary folder, a free port.

    with throwaway_postgres() as postgres:
        postgres.url            # postgresql://postgres@127.0.0.1:PORT/flora_test
        postgres.new_database() # a fresh, empty database on the same cluster
        with postgres.stopped():
            ...                 # the database is gone; back on the same port afterwards

No mock database: `initdb` (trust auth, UTF8) in a temporary folder, `postgres` listening on loopback
and on a unix socket inside that folder, removed on exit. initdb and postgres refuse to run as root,
so when the tests run as root both run as the `postgres` user, which then owns the folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"
DATABASE = "flora_test"
START_TIMEOUT_SECONDS = 30
# Durability is worth nothing in a cluster that is deleted after the tests: skip the fsyncs.
_CONFIG = """
listen_addresses = '127.0.0.1'
unix_socket_directories = '{socket_dir}'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 200
"""


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL's bin folder (/usr/lib/postgresql/<major>/bin), if one is installed."""
    found = [p.parent for p in PG_ROOT.glob("*/bin/initdb") if p.parent.parent.name.isdigit()]
    return max(found, key=lambda p: int(p.parent.name), default=None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThrowawayPostgres:
    """One running cluster: its URL, fresh databases on it, and stopping and starting it in place."""

    def __init__(self, bin_dir: Path, folder: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.folder = folder
        self.port = port
        self.data_dir = folder / "data"
        self.log_file = folder / "postgres.log"
        self.url = self.url_for(DATABASE)
        self.running = False

    def url_for(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> None:
        """A PostgreSQL program, as the `postgres` user when we are root; its output in the error."""
        command = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"LC_ALL": "C"}
        done = subprocess.run(  # cwd: the postgres user may not be allowed into ours
            command, cwd=self.folder, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}{log}"
            )

    def start(self) -> None:
        """Start (again) on the same port; returns once it accepts connections (pg_ctl -w waits for that)."""
        if not self.running:
            data, log, timeout = str(self.data_dir), str(self.log_file), str(START_TIMEOUT_SECONDS)
            self._run("pg_ctl", "start", "-D", data, "-l", log, "-w", "-t", timeout)
            self.running = True

    def stop(self) -> None:
        """Stop now (fast: open connections are cut, as when a database server goes away)."""
        if self.running:
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w")
            self.running = False

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """The database is down inside the block and up again after it, even if the block fails."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def new_database(self, name: str | None = None) -> str:
        """A new empty database on this cluster (a fresh name unless given); its URL."""
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name)
        return self.url_for(name)

    def __repr__(self) -> str:
        return f"ThrowawayPostgres(url={self.url!r}, running={self.running})"


@contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A new cluster with database `flora_test`, running until the block ends, then removed."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError(f"no PostgreSQL under {PG_ROOT} (Debian: apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="flora-mcp-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(folder, user=SUPERUSER, group=SUPERUSER)
    cluster = ThrowawayPostgres(bin_dir, folder, _free_port())
    try:
        options = ("-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
        cluster._run("initdb", "-D", str(cluster.data_dir), *options)
        with (cluster.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(_CONFIG.format(socket_dir=folder))
        for attempt in range(3):  # another process may take the free port before postgres binds it
            with (cluster.data_dir / "postgresql.conf").open("a") as conf:
                conf.write(f"port = {cluster.port}\n")  # the last setting wins
            try:
                cluster.start()
                break
            except RuntimeError as exc:
                if attempt == 2 or "already in use" not in str(exc):
                    raise
                cluster.port = _free_port()
                cluster.url = cluster.url_for(DATABASE)
        cluster.new_database(DATABASE)
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
