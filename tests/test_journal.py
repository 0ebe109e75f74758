"""The local run journal: what it keeps, for whom, how much, and that a crash loses nothing."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import flora_mcp
from flora_mcp.store import (
    DEFAULT_MAX_ENTRIES,
    INTENT,
    MAX_PARAMS_BYTES,
    MAX_PROMPT_CHARS,
    SCHEMA_VERSION,
    RunStore,
    SqliteStore,
    StoreError,
    StoreUnavailable,
    account_digest,
    default_journal_path,
    in_thread,
    open_postgres,
)
from tests.postgres import ThrowawayPostgres

KEY = "flora_live_k3y-that-must-never-reach-the-disk"
ACCOUNT = account_digest(KEY)
OTHER = account_digest("flora_live_someone-else")
REPO_ROOT = Path(flora_mcp.__file__).resolve().parent.parent


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "flora-mcp" / "runs.sqlite3"


Opener = Callable[..., RunStore]
"""Opens another store on the same database (SQLite file or PostgreSQL database)."""


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, path: Path) -> Iterator[Opener]:
    """Every store test runs on both databases: one interface, two implementations."""
    opened: list[RunStore] = []
    if request.param == "sqlite":
        target = str(path)

        def open_sqlite(max_entries: int = DEFAULT_MAX_ENTRIES) -> RunStore:
            return SqliteStore.open(target, max_entries=max_entries)

        make: Opener = open_sqlite
    else:
        url = request.getfixturevalue("postgres").new_database()

        def open_pg(max_entries: int = DEFAULT_MAX_ENTRIES) -> RunStore:
            return open_postgres(url, max_entries=max_entries)

        make = open_pg

    def tracked(**kwargs: Any) -> RunStore:
        store = make(**kwargs)
        opened.append(store)
        return store

    yield tracked
    for store in opened:
        store.close()


@pytest.fixture
def journal(opener: Opener) -> RunStore:
    return opener()


@pytest.fixture
def sqlite_journal(path: Path) -> Iterator[SqliteStore]:
    with SqliteStore.open(path) as opened:
        yield opened


def _start(journal: RunStore, run_id: str, *, account: str = ACCOUNT, **overrides: Any) -> None:
    fields: dict[str, Any] = {
        "kind": "generation",
        "type": "image",
        "prompt": f"a blue mug ({run_id})",
        "model": "t2i-fast",
        "params": {"aspect_ratio": "1:1"},
        "references": [],
        "workspace_id": "ws_1",
        "project_id": "prj_1",
        "quote_usd": 0.04,
        "started_at": 1000.0,
    }
    journal.record_start(account, run_id, **(fields | overrides))


def test_a_recorded_run_reads_back_after_the_file_is_reopened(path: Path) -> None:
    with SqliteStore.open(path) as journal:
        journal.record_start(
            ACCOUNT,
            "run_1",
            kind="generation",
            type="image",
            prompt="a watercolour mug",
            model="i2i-style",
            params={"aspect_ratio": "4:3", "image_url": "https://media.flora.ai/a.png"},
            references=["https://media.flora.ai/a.png"],
            workspace_id="ws_1",
            project_id="prj_1",
            quote_usd=0.25,
            started_at=1234.5,
        )
        journal.settle(
            ACCOUNT,
            "run_1",
            status="completed",
            cost_usd=0.87,
            outputs=[{"url": "https://media.flora.ai/out.png", "type": "image"}],
            seed=42,
            settled_at=1300.0,
        )
        journal.add_saved_paths(ACCOUNT, "run_1", ["/home/u/Pictures/watercolour-mug_1.png"])

    with SqliteStore.open(path) as reopened:
        entry = reopened.get(ACCOUNT, ["run_1", "run_unknown"])

    assert list(entry) == ["run_1"]
    run = entry["run_1"]
    assert (run.kind, run.type, run.prompt, run.model) == (
        "generation",
        "image",
        "a watercolour mug",
        "i2i-style",
    )
    assert run.params == {"aspect_ratio": "4:3", "image_url": "https://media.flora.ai/a.png"}
    assert run.references == ["https://media.flora.ai/a.png"]
    assert (run.workspace_id, run.project_id, run.quote_usd, run.started_at) == (
        "ws_1",
        "prj_1",
        0.25,
        1234.5,
    )
    assert (run.status, run.cost_usd, run.seed, run.settled_at) == ("completed", 0.87, 42, 1300.0)
    assert run.outputs == [{"url": "https://media.flora.ai/out.png", "type": "image"}]
    assert run.saved_paths == ["/home/u/Pictures/watercolour-mug_1.png"]
    assert not run.truncated


def test_an_intent_survives_a_process_killed_with_sigkill(path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import os, signal
        from flora_mcp.store import SqliteStore, account_digest
        journal = SqliteStore.open({str(path)!r})
        journal.record_intent(
            account_digest({KEY!r}), "idem-1", kind="generation", type="video",
            prompt="a mug spinning", model="t2v-slow", params={{"duration": "5"}},
            workspace_id="ws_1", project_id="prj_1", quote_usd=1.5, started_at=2000.0,
        )
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT)}
    finished = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, timeout=60, check=False
    )
    assert finished.returncode == -signal.SIGKILL, finished.stderr.decode()

    with SqliteStore.open(path) as reopened:
        intents = reopened.pending_intents(ACCOUNT)

    assert [(i.local_id, i.run_id, i.status, i.prompt) for i in intents] == [
        ("idem-1", None, INTENT, "a mug spinning")
    ]
    assert intents[0].params == {"duration": "5"}
    assert intents[0].quote_usd == 1.5


def test_an_intent_becomes_its_run_once_the_run_id_is_recorded(journal: RunStore) -> None:
    journal.record_intent(
        ACCOUNT,
        "idem-2",
        kind="technique",
        type="image",
        prompt="product shot",
        model=None,
        params={},
        workspace_id="ws_1",
        project_id="prj_1",
        started_at=10.0,
    )
    _start(journal, "run_2", local_id="idem-2", kind="technique", prompt="product shot", started_at=10.0)

    assert journal.pending_intents(ACCOUNT) == []
    [entry] = journal.recent(ACCOUNT)
    assert (entry.local_id, entry.run_id, entry.kind, entry.status) == (
        "idem-2",
        "run_2",
        "technique",
        "pending",
    )


def test_a_reconciled_intent_merges_into_a_run_already_journaled(journal: RunStore) -> None:
    journal.record_intent(
        ACCOUNT,
        "idem-3",
        kind="generation",
        type="image",
        prompt="p",
        model=None,
        params={},
        workspace_id="ws_1",
        project_id="prj_1",
        started_at=5.0,
    )
    _start(journal, "run_3")
    _start(journal, "run_3", local_id="idem-3")

    assert [(e.local_id, e.run_id) for e in journal.recent(ACCOUNT)] == [("idem-3", "run_3")]


def test_dropping_an_intent_forgets_a_post_that_failed(journal: RunStore) -> None:
    journal.record_intent(
        ACCOUNT,
        "idem-4",
        kind="action",
        type=None,
        prompt=None,
        model=None,
        params={},
        workspace_id="ws_1",
        project_id="prj_1",
        started_at=1.0,
    )
    assert journal.drop_intent(ACCOUNT, "idem-4")
    assert journal.pending_intents(ACCOUNT) == []
    assert not journal.drop_intent(ACCOUNT, "idem-4")


def test_the_journal_keeps_at_most_max_entries_per_account_dropping_the_oldest(opener: Opener) -> None:
    journal = opener(max_entries=5)
    for n in range(12):
        _start(journal, f"run_{n}", started_at=float(n))
    _start(journal, "run_other", account=OTHER)

    kept = [e.run_id for e in journal.recent(ACCOUNT, limit=100)]
    assert kept == ["run_11", "run_10", "run_9", "run_8", "run_7"]
    assert [e.run_id for e in journal.recent(OTHER)] == ["run_other"]
    assert len(opener(max_entries=100).recent(ACCOUNT, limit=100)) == 5  # deleted, not hidden


def test_accounts_do_not_see_each_others_runs(journal: RunStore) -> None:
    _start(journal, "run_mine")
    _start(journal, "run_theirs", account=OTHER)
    journal.record_intent(
        OTHER,
        "idem-theirs",
        kind="generation",
        type="image",
        prompt="p",
        model=None,
        params={},
        workspace_id="ws_1",
        project_id="prj_1",
        started_at=1.0,
    )

    assert [e.run_id for e in journal.recent(ACCOUNT)] == ["run_mine"]
    assert journal.get(ACCOUNT, ["run_theirs"]) == {}
    assert journal.pending_intents(ACCOUNT) == []
    assert not journal.settle(ACCOUNT, "run_theirs", status="failed", cost_usd=0.0, outputs=[], seed=None)
    assert not journal.add_saved_paths(ACCOUNT, "run_theirs", ["/tmp/x.png"])
    assert journal.get(OTHER, ["run_theirs"])["run_theirs"].status == "pending"


def test_the_key_never_appears_in_the_files_bytes(path: Path) -> None:
    with SqliteStore.open(path) as journal:
        _start(journal, "run_k")
        journal.record_intent(
            ACCOUNT,
            "idem-k",
            kind="generation",
            type="image",
            prompt="p",
            model=None,
            params={},
            workspace_id="ws_1",
            project_id="prj_1",
            started_at=1.0,
        )
        files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
        written = b"".join(p.read_bytes() for p in files)

    assert b"run_k" in written  # the bytes searched are the ones the journal wrote
    assert KEY.encode() not in written
    assert hashlib.sha256(KEY.encode()).hexdigest().encode() not in written


def test_the_digest_is_namespaced_not_a_bare_hash_of_the_key() -> None:
    assert hashlib.sha256(KEY.encode()).hexdigest() != ACCOUNT
    assert account_digest(KEY) == ACCOUNT
    assert len(ACCOUNT) == 64


def test_a_raw_key_is_refused_as_an_account(journal: RunStore) -> None:
    with pytest.raises(ValueError, match="account_digest"):
        _start(journal, "run_x", account=KEY)
    with pytest.raises(ValueError, match="account_digest"):
        journal.recent(KEY)


def test_concurrent_writers_from_threads_lose_no_run(opener: Opener) -> None:
    # Two stores on one database stand for two server processes; eight threads share them.
    first, second = opener(), opener()
    errors: list[BaseException] = []

    def write(journal: RunStore, thread: int) -> None:
        try:
            for n in range(25):
                run_id = f"run_{thread}_{n}"
                _start(journal, run_id, started_at=float(n))
                journal.settle(ACCOUNT, run_id, status="completed", cost_usd=0.01, outputs=[], seed=n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(first if t % 2 else second, t)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    entries = first.recent(ACCOUNT, limit=1000)
    assert len(entries) == 200
    assert {e.status for e in entries} == {"completed"}


def test_a_long_prompt_and_large_params_are_capped_and_flagged(journal: RunStore) -> None:
    big = "x" * (MAX_PARAMS_BYTES * 2)
    _start(
        journal, "run_big", prompt="p" * (MAX_PROMPT_CHARS * 3), params={"aspect_ratio": "1:1", "blob": big}
    )

    entry = journal.get(ACCOUNT, ["run_big"])["run_big"]
    assert entry.prompt is not None
    assert len(entry.prompt) == MAX_PROMPT_CHARS
    assert entry.params["aspect_ratio"] == "1:1"
    assert "not journaled" in entry.params["blob"]
    assert entry.truncated


def test_the_file_is_created_with_its_folders_and_owner_only_permissions(path: Path) -> None:
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    old_umask = os.umask(0o022)
    try:
        with SqliteStore.open(path) as journal:
            _start(journal, "run_p")
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
    finally:
        os.umask(old_umask)

    assert modes.keys() >= {"runs.sqlite3", "runs.sqlite3-wal"}
    assert set(modes.values()) == {0o600}, modes
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_journal_runs_in_wal_mode_with_full_sync(sqlite_journal: SqliteStore, path: Path) -> None:
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with sqlite_journal._transaction() as run:
        assert run("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_recent_filters_by_workspace_and_project_and_pages_with_before(journal: RunStore) -> None:
    for n in range(6):
        _start(journal, f"run_{n}", project_id="prj_a" if n % 2 else "prj_b", started_at=float(n))
    _start(journal, "run_ws2", workspace_id="ws_2", started_at=9.0)

    assert [e.run_id for e in journal.recent(ACCOUNT, project_id="prj_a")] == ["run_5", "run_3", "run_1"]
    assert [e.run_id for e in journal.recent(ACCOUNT, workspace_id="ws_2")] == ["run_ws2"]
    first_page = journal.recent(ACCOUNT, workspace_id="ws_1", limit=2)
    assert [e.run_id for e in first_page] == ["run_5", "run_4"]
    second_page = journal.recent(ACCOUNT, workspace_id="ws_1", limit=2, before=first_page[-1].started_at)
    assert [e.run_id for e in second_page] == ["run_3", "run_2"]


def test_a_later_settle_keeps_what_it_does_not_know(journal: RunStore) -> None:
    _start(journal, "run_s")
    outputs = [{"url": "https://media.flora.ai/o.png"}]
    journal.settle(ACCOUNT, "run_s", status="completed", cost_usd=None, outputs=outputs, seed=7)
    journal.settle(ACCOUNT, "run_s", status="completed", cost_usd=0.87, outputs=[], seed=None)

    entry = journal.get(ACCOUNT, ["run_s"])["run_s"]
    assert (entry.cost_usd, entry.seed, entry.outputs) == (0.87, 7, outputs)


def test_saved_paths_accumulate_without_duplicates(journal: RunStore) -> None:
    _start(journal, "run_sp")
    journal.add_saved_paths(ACCOUNT, "run_sp", ["/a.png", "/b.png"])
    journal.add_saved_paths(ACCOUNT, "run_sp", ["/b.png", "/c.png"])

    assert journal.get(ACCOUNT, ["run_sp"])["run_sp"].saved_paths == ["/a.png", "/b.png", "/c.png"]


def test_an_unknown_kind_is_refused(journal: RunStore) -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        _start(journal, "run_k", kind="batch")


def test_a_file_that_is_not_a_journal_is_refused_with_a_journal_error(tmp_path: Path) -> None:
    not_a_db = tmp_path / "runs.sqlite3"
    not_a_db.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StoreError, match="cannot use the run journal"):
        SqliteStore.open(not_a_db)


def test_a_journal_from_a_newer_schema_is_refused(path: Path) -> None:
    SqliteStore.open(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer flora-mcp"):
        SqliteStore.open(path)


def test_a_closed_journal_raises_a_journal_error(path: Path) -> None:
    journal = SqliteStore.open(path)
    journal.close()
    journal.close()
    with pytest.raises(StoreError, match="closed"):
        journal.recent(ACCOUNT)


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("linux", {"XDG_DATA_HOME": "/xdg"}, "/xdg/flora-mcp/runs.sqlite3"),
        ("linux", {"XDG_DATA_HOME": "relative"}, "/home/u/.local/share/flora-mcp/runs.sqlite3"),
        ("linux", {}, "/home/u/.local/share/flora-mcp/runs.sqlite3"),
        ("darwin", {"XDG_DATA_HOME": "/xdg"}, "/home/u/Library/Application Support/flora-mcp/runs.sqlite3"),
        ("win32", {"LOCALAPPDATA": "/appdata"}, "/appdata/flora-mcp/runs.sqlite3"),
        ("win32", {}, "/home/u/AppData/Local/flora-mcp/runs.sqlite3"),
    ],
)
def test_the_default_path_is_the_users_data_folder_on_each_platform(
    platform: str, environ: dict[str, str], expected: str
) -> None:
    assert default_journal_path(environ, platform=platform, home=Path("/home/u")) == Path(expected)


@pytest.mark.anyio
async def test_async_callers_record_and_read_through_a_worker_thread(path: Path) -> None:
    journal = await in_thread(SqliteStore.open, path)
    threads: list[str] = []

    def record(local_id: str) -> None:
        threads.append(threading.current_thread().name)
        journal.record_intent(
            ACCOUNT,
            local_id,
            kind="generation",
            type="audio",
            prompt="a jingle",
            model="t2a-x",
            params={},
            workspace_id="ws_1",
            project_id="prj_1",
            started_at=3.0,
        )

    try:
        await in_thread(record, "idem-a")
        assert threads != [threading.current_thread().name]  # not on the event loop's thread
        assert [i.local_id for i in await in_thread(journal.pending_intents, ACCOUNT)] == ["idem-a"]
        assert not await in_thread(journal.drop_intent, ACCOUNT, "idem-b")
    finally:
        journal.close()


def test_a_local_id_already_bound_to_another_run_is_not_taken_over(journal: RunStore) -> None:
    _start(journal, "run_first", local_id="idem-5", started_at=1.0)
    _start(journal, "run_second", local_id="idem-5", started_at=2.0)

    entries = journal.get(ACCOUNT, ["run_first", "run_second"])
    assert entries["run_first"].local_id == "idem-5"
    assert entries["run_second"].local_id != "idem-5"


# Start coordination: what the database makes atomic for every replica.


def test_a_lease_is_held_by_one_start_until_released_or_expired(opener: Opener) -> None:
    one, other = opener(), opener()
    assert one.acquire_lease("generation:prj_1", "t2i-fast", "start-a", ttl=30)
    assert not other.acquire_lease("generation:prj_1", "t2i-fast", "start-b", ttl=30)
    assert other.acquire_lease("generation:prj_1", "t2t-fast", "start-b", ttl=30)  # another model
    assert other.leases("generation:prj_1") == {"t2i-fast": "start-a", "t2t-fast": "start-b"}
    one.release_lease("generation:prj_1", "t2i-fast", "start-a")
    assert other.acquire_lease("generation:prj_1", "t2i-fast", "start-b", ttl=-1)  # expires at once
    assert one.acquire_lease("generation:prj_1", "t2i-fast", "start-c", ttl=30)  # a dead holder's lease
    assert not other.renew_lease("generation:prj_1", "t2i-fast", "start-b", ttl=30)  # lost it


def test_a_run_is_claimed_by_one_start_ever(opener: Opener) -> None:
    one, other = opener(), opener()
    assert one.claim("run_1", "start-a")
    assert not other.claim("run_1", "start-b")
    _start(other, "run_2", local_id="start-c")  # an answered start claims its run as it is journaled
    assert one.claimed(["run_1", "run_2", "run_3"]) == {"run_1": "start-a", "run_2": "start-c"}


def test_concurrent_claims_of_one_run_have_one_winner(opener: Opener) -> None:
    stores = [opener() for _ in range(4)]
    wins: list[bool] = []
    threads = [
        threading.Thread(target=lambda s=s, n=n: wins.append(s.claim("run_x", f"start-{n}")))
        for n, s in enumerate(stores)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(wins) == [False, False, False, True]


def test_every_store_on_one_database_reads_the_same_secret(opener: Opener) -> None:
    first = opener().secret("request_state_key", "first-candidate")
    assert first == "first-candidate"
    assert opener().secret("request_state_key", "second-candidate") == "first-candidate"


def test_every_store_on_one_database_knows_the_media_origins_another_learned(opener: Opener) -> None:
    """An asset uploaded through one replica is a reference FLORA fetches on every replica."""
    first, second = opener(), opener()
    first.learn_origins(["https://storage.example.com", "https://media.flora.ai"])
    first.learn_origins(["https://storage.example.com"])  # again: nothing doubles
    assert second.media_origins() == {"https://storage.example.com", "https://media.flora.ai"}


def test_a_version_1_journal_is_upgraded_without_losing_a_row(path: Path) -> None:
    """Journals written before the store (schema 1: runs only) gain leases and claims; their
    answered runs become claims, so no recovery can hand them out."""
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path)
    old.executescript(
        """CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL,
        local_id TEXT NOT NULL, run_id TEXT, kind TEXT NOT NULL, run_type TEXT, prompt TEXT, model TEXT,
        params TEXT NOT NULL DEFAULT '{}', refs TEXT NOT NULL DEFAULT '[]', workspace_id TEXT,
        project_id TEXT, quote_usd REAL, started_at REAL NOT NULL, status TEXT NOT NULL, cost_usd REAL,
        outputs TEXT NOT NULL DEFAULT '[]', seed INTEGER, error TEXT, saved_paths TEXT NOT NULL DEFAULT '[]',
        settled_at REAL, truncated INTEGER NOT NULL DEFAULT 0);
        PRAGMA user_version = 1;"""
    )
    old.execute(
        "INSERT INTO runs (account, local_id, run_id, kind, prompt, started_at, status) "
        "VALUES (?, 'l1', 'run_old', 'generation', 'an old mug', 1.0, 'completed')",
        (ACCOUNT,),
    )
    old.commit()
    old.close()

    with SqliteStore.open(path) as upgraded:
        [entry] = upgraded.recent(ACCOUNT)
        assert (entry.run_id, entry.prompt) == ("run_old", "an old mug")
        assert upgraded.claimed(["run_old"]) == {"run_old": "l1"}
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_an_unreachable_database_is_named_without_its_password(postgres: ThrowawayPostgres) -> None:
    url = f"postgresql://flora:s3cret-pw@127.0.0.1:{_closed_port()}/nowhere"
    with pytest.raises(StoreError) as caught:
        open_postgres(url)
    message = str(caught.value)
    assert "127.0.0.1" in message and "nowhere" in message
    assert "s3cret-pw" not in message and "s3cret-pw" not in repr(caught.value.__cause__)


def test_a_database_that_goes_away_fails_fast_and_is_used_again_when_back(
    postgres: ThrowawayPostgres,
) -> None:
    store = open_postgres(postgres.new_database())
    try:
        _start(store, "run_before")
        with postgres.stopped(), pytest.raises(StoreUnavailable):
            store.record_intent(ACCOUNT, "l2", **_INTENT)
        _start(store, "run_after")  # the pool reconnects by itself
        assert {e.run_id for e in store.recent(ACCOUNT)} == {"run_before", "run_after"}
    finally:
        store.close()


def test_reopening_a_postgres_store_keeps_its_schema_and_rows(postgres: ThrowawayPostgres) -> None:
    url = postgres.new_database()
    with open_postgres(url) as first:
        _start(first, "run_kept")
    with open_postgres(url) as again:  # replicas starting later: the schema is there, nothing lost
        assert [e.run_id for e in again.recent(ACCOUNT)] == ["run_kept"]


_INTENT: dict[str, Any] = {
    "kind": "generation",
    "type": "image",
    "prompt": "p",
    "model": None,
    "params": {},
    "workspace_id": "ws_1",
    "project_id": "prj_1",
    "started_at": 1.0,
}


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
