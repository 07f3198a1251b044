# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A feature view's schema against its source's columns (module_utils/feast/schema.py).

Column tuples are (name, PostgreSQL type name as Feast's PostgreSQLSource reports it, Feast ValueType name as
Feast's pg_type_to_feast_value_type maps it); the same comparison runs against a real PostgreSQL table in
tests/integration/test_feast_modules.py.
"""

from __future__ import annotations

from ansible_collections.baremetal.mlops.plugins.module_utils.feast.schema import compare

COLUMNS = [("customer_id", "bigint", "INT64"), ("event_timestamp", "timestamp with time zone", "UNIX_TIMESTAMP"),
           ("amount", "double precision", "DOUBLE"), ("n", "integer", "INT32")]
FEATURES = [("amount", "DOUBLE"), ("n", "INT64")]


def test_matching_schema_and_lossless_widening_have_no_problem():
    assert compare("v", FEATURES, COLUMNS, timestamp_field="event_timestamp", join_keys=["customer_id"]) == []


def test_a_renamed_column_names_the_column_and_what_the_source_has():
    columns = [c if c[0] != "amount" else ("amount_eur", "double precision", "DOUBLE") for c in COLUMNS]
    [problem] = compare("v", FEATURES, columns, timestamp_field="event_timestamp", join_keys=["customer_id"])
    assert problem["column"] == "amount" and problem["feature"] == "amount"
    assert "no longer has" in problem["problem"] and "amount_eur double precision" in problem["problem"]


def test_a_retyped_column_is_a_problem_when_the_conversion_loses():
    columns = [c if c[0] != "amount" else ("amount", "text", "STRING") for c in COLUMNS]
    [problem] = compare("v", FEATURES, columns)
    assert "source column amount is text (STRING) but feature amount is declared DOUBLE" in problem["problem"]


def test_int64_widens_to_double_but_double_does_not_truncate_to_int64():
    columns = [("amount", "bigint", "INT64")]
    assert compare("v", [("amount", "DOUBLE")], columns) == []
    # Float32 over a DOUBLE column only rounds (Feast's templates do it); an integer truncates.
    assert compare("v", [("amount", "FLOAT")], [("amount", "double precision", "DOUBLE")]) == []
    [problem] = compare("v", [("amount", "INT64")], [("amount", "double precision", "DOUBLE")])
    assert "declared INT64" in problem["problem"] and "truncates" in problem["problem"]


def test_field_mapping_missing_timestamp_and_join_key_and_unknown_type():
    columns = [("total", "double precision", "DOUBLE"), ("blob", "money", None)]
    problems = compare("v", [("amount", "DOUBLE"), ("b", "BYTES")], columns,
                       field_mapping={"total": "amount", "blob": "b"}, timestamp_field="event_timestamp",
                       join_keys=["customer_id"])
    texts = [p["problem"] for p in problems]
    assert any("no event timestamp column event_timestamp" in t for t in texts)
    assert any("no join key customer_id" in t for t in texts)
    assert any("blob is money, which Feast cannot convert" in t for t in texts)
    assert not any("amount" in t and "no longer" in t for t in texts)
