"""Helpers for tests that use the Feast fixture repository (tests/integration/fixtures/feast_repo).

The repository (project ``mlops_verify``) keeps its registry in the stack's
PostgreSQL database ``MLOPS_PG_DB_FEAST``, reads the offline table
``driver_hourly_stats`` from the same database and serves from the stack's
Redis. Its feature_store.yaml takes every endpoint and credential from
environment variables, listed in :data:`FEAST_ENV_VARS`.

Typical use, e.g. to make online values stale on purpose while reads still
succeed::

    from feast_helpers import FEAST_REPO, create_offline_table, drop_all, feast_env, insert_driver_stats

    drop_all(stack)                      # fresh project: no registry objects, no table, no online rows
    create_offline_table(stack)
    old = datetime.now(timezone.utc) - timedelta(days=3)
    insert_driver_stats(stack, [1001, 1002], old)
    # feast_apply, then feast_materialize with an end_date after `old`: the
    # online store now holds values whose event timestamp is 3 days old.

The helpers talk to PostgreSQL (psycopg2) and Redis (redis-py) directly and
never import Feast, so they stay fast (importing feast costs several seconds).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import psycopg2

FEAST_REPO = Path(__file__).resolve().parent / "fixtures" / "feast_repo"
FEAST_PROJECT = "mlops_verify"
FEAST_TABLE = "driver_hourly_stats"
FEAST_FEATURE_VIEW = "driver_hourly_stats"
FEAST_FEATURES = ("conv_rate", "acc_rate", "avg_daily_trips")

# Variables feature_store.yaml expands; the *_PASSWORD ones are the secrets.
FEAST_ENV_VARS = (
    "MLOPS_PG_HOST", "MLOPS_PG_PORT", "MLOPS_PG_USER", "MLOPS_PG_PASSWORD", "MLOPS_PG_DB_FEAST",
    "MLOPS_REDIS_HOST", "MLOPS_REDIS_PORT", "MLOPS_REDIS_PASSWORD",
)
FEAST_SECRET_VARS = ("MLOPS_PG_PASSWORD", "MLOPS_REDIS_PASSWORD")


def feast_env(stack) -> dict[str, str]:
    """The variables feature_store.yaml needs, from the running stack.

    Pass them to ``run_ansible(env=...)``; a playbook then hands the secrets
    (:data:`FEAST_SECRET_VARS`) to the modules' no_log ``environment`` option
    and the others to the task's ``environment`` keyword (values in the
    module option are masked in all of its output, so keep endpoints out of
    it if you want to read them in messages).
    """
    env = {name: str(stack.vars[name]) for name in FEAST_ENV_VARS}
    # As the modules do (module_utils/feast/store.py): the registry URL takes the password percent-encoded.
    env.update({name + "_URLENCODED": quote(env[name], safe="") for name in FEAST_SECRET_VARS})
    return env


@contextlib.contextmanager
def _cursor(stack):
    """A cursor in one transaction (committed on success); the connection is closed afterwards."""
    with contextlib.closing(psycopg2.connect(**stack.pg("feast"))) as conn:
        with conn:
            with conn.cursor() as cur:
                yield cur


def create_offline_table(stack) -> None:
    """Create the source table ``driver_hourly_stats`` (empty) if it does not exist."""
    with _cursor(stack) as cur:
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {FEAST_TABLE} ("
            " driver_id BIGINT NOT NULL,"
            " event_timestamp TIMESTAMPTZ NOT NULL,"
            " created TIMESTAMPTZ NOT NULL,"
            " conv_rate DOUBLE PRECISION,"
            " acc_rate DOUBLE PRECISION,"
            " avg_daily_trips BIGINT)"
        )


def insert_rows(stack, rows) -> int:
    """Insert rows into ``driver_hourly_stats``; returns how many.

    Each row is a dict with ``driver_id`` and ``event_timestamp`` (an aware
    datetime) and optionally ``created`` (default: event_timestamp),
    ``conv_rate``, ``acc_rate``, ``avg_daily_trips`` (defaults derived from the
    driver id, never null, so online reads return non-null values).
    """
    values = []
    for row in rows:
        ts = row["event_timestamp"]
        if ts.tzinfo is None:
            raise ValueError("event_timestamp must be timezone-aware: %r" % (ts,))
        driver_id = int(row["driver_id"])
        values.append((driver_id, ts, row.get("created", ts),
                       row.get("conv_rate", round(0.5 + (driver_id % 10) / 100.0, 4)),
                       row.get("acc_rate", round(0.9 - (driver_id % 10) / 100.0, 4)),
                       row.get("avg_daily_trips", 100 + driver_id % 100)))
    with _cursor(stack) as cur:
        cur.executemany(
            f"INSERT INTO {FEAST_TABLE} (driver_id, event_timestamp, created, conv_rate, acc_rate, avg_daily_trips)"
            " VALUES (%s, %s, %s, %s, %s, %s)", values)
    return len(values)


def insert_driver_stats(stack, driver_ids, event_timestamp: datetime | None = None, **features) -> int:
    """Insert one row per driver id, all with the same event timestamp (default: now, UTC).

    ``features`` (conv_rate=..., acc_rate=..., avg_daily_trips=...) override
    the default values for every row. Materialize up to an end_date after
    ``event_timestamp`` for the rows to reach the online store; rows older
    than the feature view's ttl (1 day) at materialization time are skipped
    by Feast's first incremental run (it starts at now - ttl), so to make
    stale-but-readable values, materialize explicitly from before them, or
    insert them after a first materialization (the next incremental run
    starts where the last ended): see :func:`stale_end_date`.
    """
    ts = event_timestamp or datetime.now(timezone.utc)
    return insert_rows(stack, [dict(driver_id=d, event_timestamp=ts, **features) for d in driver_ids])


def stale_end_date(event_timestamp: datetime) -> str:
    """An ISO8601 end_date just after ``event_timestamp`` for feast_materialize."""
    return (event_timestamp + timedelta(seconds=1)).isoformat()


def drop_all(stack, project: str = FEAST_PROJECT) -> None:
    """Reset to nothing: drop the source table, delete the project's registry rows and online rows.

    Registry: every table of the SQL registry with a ``project_id`` column
    (entities, feature_views, data_sources, projects, feast_metadata, ...)
    loses the project's rows; other projects are kept. Online store: every
    Redis key of the project (Feast's keys end with the project name) is
    deleted. Safe to call when nothing exists yet.
    """
    with _cursor(stack) as cur:
        cur.execute(f"DROP TABLE IF EXISTS {FEAST_TABLE}")
        cur.execute("SELECT table_name FROM information_schema.columns"
                    " WHERE table_schema = 'public' AND column_name = 'project_id'")
        for (table,) in cur.fetchall():
            cur.execute('DELETE FROM "%s" WHERE project_id = %%s' % table.replace('"', '""'), (project,))
    client = stack.redis()
    try:
        suffix = project.encode()
        keys = [k for k in client.scan_iter(match=b"*" + suffix, count=1000) if k.endswith(suffix)]
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
    finally:
        client.close()


def registry_snapshot(stack, project: str = FEAST_PROJECT) -> dict[str, list]:
    """What the SQL registry holds for the project: {table: sorted rows of (name-ish columns, last_updated)}.

    Used to prove that check mode wrote nothing. Tables that do not exist
    yet (before the first apply) are absent.
    """
    snap = {}
    with _cursor(stack) as cur:
        cur.execute("SELECT table_name FROM information_schema.columns"
                    " WHERE table_schema = 'public' AND column_name = 'project_id' ORDER BY table_name")
        for (table,) in cur.fetchall():
            cur.execute('SELECT * FROM "%s" WHERE project_id = %%s' % table.replace('"', '""'), (project,))
            snap[table] = sorted(repr(row) for row in cur.fetchall())
    return snap


def online_key_count(stack, project: str = FEAST_PROJECT) -> int:
    """How many Redis keys the project has in the online store."""
    client = stack.redis()
    try:
        suffix = project.encode()
        return sum(1 for k in client.scan_iter(match=b"*" + suffix, count=1000) if k.endswith(suffix))
    finally:
        client.close()
