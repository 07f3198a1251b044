"""The collection's example feature repository (roles/feast, feast_repo_path's default): customers' card
transactions, aggregated per hour in the offline store (PostgreSQL table ``customer_transactions_1h``, filled by
your pipeline), served online from Redis. The example training Job reads its history with labels from
``customer_labels``."""

from datetime import timedelta

from feast import Entity, FeatureView, Field
from feast.infra.offline_stores.contrib.postgres_offline_store.postgres_source import PostgreSQLSource
from feast.types import Float64, Int64
from feast.value_type import ValueType

customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.INT64,
    description="A card holder, by numeric id.",
)

customer_transactions_source = PostgreSQLSource(
    name="customer_transactions_1h_source",
    table="customer_transactions_1h",
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

customer_transactions_1h = FeatureView(
    name="customer_transactions_1h",
    entities=[customer],
    ttl=timedelta(hours=6),
    schema=[
        Field(name="customer_id", dtype=Int64),
        Field(name="txn_count_1h", dtype=Int64),
        Field(name="txn_amount_avg_1h", dtype=Float64),
        Field(name="txn_amount_max_1h", dtype=Float64),
    ],
    online=True,
    source=customer_transactions_source,
    tags={"owner": "platform"},
)
