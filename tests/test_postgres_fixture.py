"""The throwaway PostgreSQL the store tests run against: real, reachable, and able to go away and return."""

from __future__ import annotations

import psycopg
import pytest

from tests.postgres import ThrowawayPostgres


def test_postgres_url_accepts_connections(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, connect_timeout=5) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        encoding = conn.execute("show server_encoding").fetchone()
    assert encoding == ("UTF8",)


def test_new_database_is_empty_and_separate(postgres: ThrowawayPostgres) -> None:
    url = postgres.new_database()
    assert url != postgres.url
    with psycopg.connect(url, connect_timeout=5) as conn:
        tables = conn.execute("select count(*) from pg_tables where schemaname = 'public'").fetchone()
    assert tables == (0,)


def test_stopped_cluster_refuses_connections_then_returns_with_its_data(
    postgres: ThrowawayPostgres,
) -> None:
    url = postgres.new_database()
    with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
        conn.execute("create table kept (value text)")
        conn.execute("insert into kept values ('before the outage')")
        with postgres.stopped():
            with pytest.raises(psycopg.OperationalError):  # the open connection was cut
                conn.execute("select 1")
            with pytest.raises(psycopg.OperationalError):  # and nothing new gets in
                psycopg.connect(url, connect_timeout=2)
    with psycopg.connect(url, connect_timeout=5) as conn:
        assert conn.execute("select value from kept").fetchall() == [("before the outage",)]
