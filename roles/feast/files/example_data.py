"""The example feature repository's producer (roles/feast, feast_example_data): what a user's pipeline does for
its own tables. It writes one hourly aggregate per customer at the current time into the offline store's
``customer_transactions_1h`` (and a label per customer into ``customer_labels``, which the example training Job
reads), creating the tables and backfilling 24 hours on its first run. Run by a Job and a CronJob in the Feast
image; the feast owner's password comes from the environment (Secret <feast_name>-store), never the command line.

Environment: FEAST_PG_HOST, FEAST_PG_DATABASE, FEAST_PG_USER, FEAST_PG_PASSWORD, FEAST_EXAMPLE_CUSTOMERS.
"""

from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta, timezone

import psycopg

TABLES = """
CREATE TABLE IF NOT EXISTS customer_transactions_1h (
    customer_id bigint NOT NULL,
    event_timestamp timestamptz NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    txn_count_1h bigint NOT NULL,
    txn_amount_avg_1h double precision NOT NULL,
    txn_amount_max_1h double precision NOT NULL,
    PRIMARY KEY (customer_id, event_timestamp)
);
CREATE TABLE IF NOT EXISTS customer_labels (
    customer_id bigint NOT NULL,
    event_timestamp timestamptz NOT NULL,
    label integer NOT NULL,
    PRIMARY KEY (customer_id, event_timestamp)
);
"""


def aggregate(rng: random.Random, customer: int) -> tuple[int, float, float]:
    count = rng.randint(0, 5 + customer % 7)
    amounts = [round(rng.uniform(1, 40 + customer % 50), 2) for _draw in range(count)] or [0.0]
    return count, round(sum(amounts) / len(amounts), 2), max(amounts)


def main() -> None:
    customers = int(os.environ.get("FEAST_EXAMPLE_CUSTOMERS", "100"))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    rng = random.Random(int(now.timestamp()))
    with psycopg.connect(host=os.environ["FEAST_PG_HOST"], dbname=os.environ["FEAST_PG_DATABASE"],
                         user=os.environ["FEAST_PG_USER"], password=os.environ["FEAST_PG_PASSWORD"], port=5432,
                         sslmode="require", connect_timeout=10, keepalives=1, keepalives_idle=10) as conn:
        conn.execute(TABLES)
        empty = conn.execute("SELECT count(*) FROM customer_transactions_1h").fetchone()[0] == 0
        hours = [now - timedelta(hours=h) for h in range(24, 0, -1)] if empty else []
        rows = [(c, ts, *aggregate(rng, c)) for ts in hours + [now] for c in range(1, customers + 1)]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO customer_transactions_1h (customer_id, event_timestamp, txn_count_1h, "
                            "txn_amount_avg_1h, txn_amount_max_1h) VALUES (%s, %s, %s, %s, %s) "
                            "ON CONFLICT DO NOTHING", rows)
            # A customer's label: a big spender in the last hour (what the example model learns to predict).
            cur.executemany("INSERT INTO customer_labels VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                            [(c, ts, int(avg * count > 60)) for c, ts, count, avg, _max in rows])
        # A week of history is enough for the example; older rows go.
        conn.execute("DELETE FROM customer_transactions_1h WHERE event_timestamp < now() - interval '7 days'")
        conn.execute("DELETE FROM customer_labels WHERE event_timestamp < now() - interval '7 days'")
        total = conn.execute("SELECT count(*), max(event_timestamp) FROM customer_transactions_1h").fetchone()
    print(json.dumps({"written": len(rows), "backfilled": bool(hours), "rows": total[0],
                      "newest": total[1].isoformat()}))


if __name__ == "__main__":
    main()
