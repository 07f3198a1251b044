# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A feature view's declared schema against its batch source's columns (pure: no Feast, no I/O).

A source column renamed, dropped or retyped does not fail reads of the online
store: materialization fails (or truncates DOUBLE to BIGINT) while the values
already there keep answering. This compares what the view declares with what
the source has now, column by column, so that verify names the column.
"""

from __future__ import annotations

# Source value type -> declared value types it converts to without truncation. DOUBLE read as FLOAT
# (Float32) only rounds: Feast's own templates declare Float32 over DOUBLE columns. An integer read from
# a floating column truncates (the outside tester's DOUBLE -> BIGINT), text into a number fails.
WIDENS = {
    "INT32": {"INT32", "INT64", "FLOAT", "DOUBLE"},
    "INT64": {"INT64", "DOUBLE"},
    "FLOAT": {"FLOAT", "DOUBLE"},
    "DOUBLE": {"DOUBLE", "FLOAT"},
}


def compare(view, features, columns, field_mapping=None, timestamp_field=None, join_keys=()):
    """Problems of one feature view's schema against its source.

    :param view: the feature view's name.
    :param features: ``[(feature name, declared value type name)]``, e.g. ``[("amount", "DOUBLE")]``.
    :param columns: ``[(column name, source type name, value type name or None)]`` as the source reports them
        (value type None: Feast has no mapping for the source type).
    :param field_mapping: the source's ``field_mapping`` (source column -> feature name).
    :param timestamp_field: the source's event timestamp column, checked for presence.
    :param join_keys: the entities' join keys, checked for presence.
    :returns: a list of ``{column, feature, problem}`` (empty: the schema matches).
    """
    by_name = dict((name, (source_type, value_type)) for name, source_type, value_type in columns)
    to_column = dict((feature, column) for column, feature in (field_mapping or {}).items())
    have = ", ".join("%s %s" % (name, source_type) for name, source_type, _v in columns) or "no column"
    problems = []
    for key, what in [(timestamp_field, "event timestamp column"), *[(k, "join key") for k in join_keys]]:
        column = to_column.get(key, key)
        if key and column not in by_name:
            problems.append(dict(column=column, feature=None, problem="%s: the source has no %s %s (it has %s)" % (
                view, what, column, have)))
    for feature, declared in features:
        column = to_column.get(feature, feature)
        if column not in by_name:
            problems.append(dict(column=column, feature=feature, problem=(
                "%s: feature %s reads source column %s, which the source no longer has (it has %s)" % (
                    view, feature, column, have))))
            continue
        source_type, value_type = by_name[column]
        if value_type is None:
            problems.append(dict(column=column, feature=feature, problem=(
                "%s: source column %s is %s, which Feast cannot convert (feature %s is %s)" % (
                    view, column, source_type, feature, declared))))
        elif value_type != declared and declared not in WIDENS.get(value_type, ()):
            problems.append(dict(column=column, feature=feature, problem=(
                "%s: source column %s is %s (%s) but feature %s is declared %s: materialization fails or "
                "truncates" % (view, column, source_type, value_type, feature, declared))))
    return problems
