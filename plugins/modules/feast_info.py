#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: feast_info
short_description: Describe a Feast feature repository and probe the freshness of its online features
version_added: 0.1.0
description:
  - Reads the registry of the feature repository at O(repo_path) and returns its project, entities and feature
    views, with the end of each view's most recent materialization.
  - For each of O(probes), reads features through the online store (C(get_online_features)) for the given entity
    rows, with their event timestamps, and tells whether every entity row's values are at most
    O(probes[].max_age_s) old (the stalest row decides, so that one fresh entity never hides a stale one), none
    lies further in the future than O(probes[].max_future_skew_s) and every value is there (RV(freshness)).
    RV(stale) lists the views of the probes that are not fresh and RV(ok) is true when there is none.
  - Stale or missing values do not fail the module, so a play can evaluate them (the platform's verify playbook
    does). An unreachable or refusing registry or online store fails it within O(timeout), naming the store's
    endpoint (C(host:port), never credentials) and the cause.
  - Reads only, in check mode too; not even Feast's bookkeeping (registry tables, the project's metadata row) is
    written.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.info
  - baremetal.mlops.feast
  - baremetal.mlops.attributes.actiongroup_feast
options:
  probes:
    description: Freshness probes, each reading one feature view for some entity rows.
    type: list
    elements: dict
    default: []
    suboptions:
      feature_view:
        description: Name of the feature view.
        type: str
        required: true
      entity_rows:
        description: "Entity rows to read, each mapping the view's join keys to values, e.g. C({driver_id: 1001})."
        type: list
        elements: dict
        required: true
      max_age_s:
        description: Oldest accepted age, in seconds, of each entity row's values (a row is as old as its oldest
          value read).
        type: int
        required: true
      max_future_skew_s:
        description: How far, in seconds, an event timestamp may lie ahead of now (clock skew) before the probe is
          not fresh; a producer writing local time as UTC makes values look fresh for hours.
        type: int
        default: 60
      features:
        description: Features of the view to read (names without the view prefix); default all of them.
        type: list
        elements: str
  check_schema:
    description:
      - Compare each probed feature view's declared features with its batch source's columns and types now
        (RV(schema)), through the offline store's connection. A column renamed, dropped or retyped at the source
        breaks materialization while the online store keeps answering with old values.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Probe the freshness of the driver features
  baremetal.mlops.feast_info:
    repo_path: /srv/feast/driver_repo
    environment:
      MLOPS_PG_PASSWORD: "{{ vault_feast_pg_password }}"
      MLOPS_REDIS_PASSWORD: "{{ vault_feast_redis_password }}"
    probes:
      - feature_view: driver_hourly_stats
        entity_rows: [{driver_id: 1001}, {driver_id: 1002}]
        max_age_s: 7200
  register: feast_state

- name: Fail when online features are older than their SLO
  ansible.builtin.assert:
    that: feast_state.ok
    fail_msg: "stale feature views: {{ feast_state.stale | join(', ') }}"
"""

RETURN = r"""
registry_missing:
  description:
    - Whether the SQL registry database has no Feast registry table at all (the repository was never applied there); the
      registry then reads as empty. A registry with only some of its tables fails the module, naming the missing ones.
  returned: always
  type: bool
  sample: false
project:
  description: The Feast project of the repository.
  returned: always
  type: str
  sample: mlops_verify
entities:
  description: Entities of the project, sorted by name.
  returned: always
  type: list
  elements: dict
  sample: [{name: driver, join_keys: [driver_id], value_type: INT64, description: A driver.}]
feature_views:
  description: Feature views of the project, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Feature view name.
      type: str
      sample: driver_hourly_stats
    entities:
      description: Names of its entities.
      type: list
      elements: str
      sample: [driver]
    features:
      description: Names of its features.
      type: list
      elements: str
      sample: [conv_rate, acc_rate, avg_daily_trips]
    ttl_s:
      description: Its ttl in seconds; null when it has none.
      type: float
      sample: 86400.0
    online:
      description: Whether it is served from the online store.
      type: bool
    last_materialization_end:
      description: End of its most recent materialization, ISO8601 in UTC; null when never materialized.
      type: str
      sample: "2026-05-01T12:00:00+00:00"
freshness:
  description: One result per probe, in the order of O(probes).
  returned: always
  type: list
  elements: dict
  contains:
    feature_view:
      description: The feature view probed.
      type: str
    entity_rows:
      description: The entity rows read.
      type: list
      elements: dict
    newest_event_timestamp:
      description: Newest event timestamp among the values read, ISO8601 in UTC; null when none came back.
      type: str
      sample: "2026-05-01T11:55:00+00:00"
    oldest_event_timestamp:
      description: The stalest entity row's event timestamp (a row's oldest value), ISO8601 in UTC.
      type: str
      sample: "2026-05-01T11:50:00+00:00"
    age_s:
      description: Seconds between RV(freshness[].oldest_event_timestamp) and now; null when no value came back.
      type: float
      sample: 600.0
    stalest_entity_row:
      description: The entity row whose values are the oldest.
      type: dict
      sample: {driver_id: 1001}
    future:
      description: Entity rows with an event further ahead of now than the skew, each as C(entity_row),
        C(event_timestamp) and C(ahead_s).
      type: list
      elements: dict
    max_future_skew_s:
      description: The probe's skew.
      type: int
      sample: 60
    max_age_s:
      description: The probe's limit.
      type: int
      sample: 7200
    fresh:
      description: True when every requested value came back, RV(freshness[].age_s) is at most the limit and
        RV(freshness[].future) is empty.
      type: bool
    missing:
      description: Entity rows with features that came back empty, each as C(entity_row) and C(features).
      type: list
      elements: dict
      sample: [{entity_row: {driver_id: 9999}, features: [conv_rate, acc_rate]}]
    row_values:
      description: One dict per entity row with the values read by feature name, and C(event_timestamp).
      type: list
      elements: dict
      sample: [{conv_rate: 0.51, acc_rate: 0.89, event_timestamp: "2026-05-01T11:55:00+00:00"}]
schema:
  description: One result per probed feature view (each once) when O(check_schema) is true.
  returned: always
  type: list
  elements: dict
  contains:
    feature_view:
      description: The feature view.
      type: str
    source:
      description: Name of its batch source.
      type: str
    checked:
      description: Whether the source's columns could be compared; false with RV(schema[].error) when its source
        type cannot list its columns.
      type: bool
    columns:
      description: The source's columns now, each as C(name) and C(type) (the source's type name).
      type: list
      elements: dict
      sample: [{name: customer_id, type: bigint}, {name: amount, type: double precision}]
    problems:
      description: Each column that does not match, as C(column), C(feature) and C(problem) (a sentence naming
        the view, the column and both types); a source that cannot be read is one problem.
      type: list
      elements: dict
      sample:
        - column: amount
          feature: amount
          problem: "customer_transactions_1h: source column amount is double precision (DOUBLE) but feature amount is
            declared INT64: materialization fails or truncates"
    error:
      description: Why the schema was not compared; null when it was.
      type: str
stale:
  description: Names of the feature views with a probe that is not fresh, sorted.
  returned: always
  type: list
  elements: str
  sample: [driver_hourly_stats]
ok:
  description: True when every probe is fresh and no probed feature view has a schema problem (also when there is
    no probe).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError
from ansible_collections.baremetal.mlops.plugins.module_utils.feast import freshness as feast_freshness
from ansible_collections.baremetal.mlops.plugins.module_utils.feast import info as feast_info
from ansible_collections.baremetal.mlops.plugins.module_utils.feast import store as feast_store

# feast is imported, guarded (try/except ImportError), by module_utils/feast/store.py.
HAS_FEAST = feast_store.HAS_FEAST
FEAST_IMPORT_ERROR = feast_store.FEAST_IMPORT_ERROR


def argspec():
    return feast_store.argument_spec(
        probes=dict(type="list", elements="dict", default=[], options=dict(
            feature_view=dict(type="str", required=True),
            entity_rows=dict(type="list", elements="dict", required=True),
            max_age_s=dict(type="int", required=True),
            max_future_skew_s=dict(type="int", default=60),
            features=dict(type="list", elements="str"),
        )),
        check_schema=dict(type="bool", default=True),
    )


def main():
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True)
    if not HAS_FEAST:
        module.fail_json(msg=missing_required_lib("feast"), exception=FEAST_IMPORT_ERROR)
    params = module.params
    empty = [i for i, p in enumerate(params["probes"]) if not p["entity_rows"]]
    if empty:
        module.fail_json(msg="probes: entity_rows is empty in probe(s) %s" % ", ".join(str(i) for i in empty))
    try:
        with feast_store.open_repo(params["repo_path"], env=params["environment"], timeout=params["timeout"],
                                   read_only=True) as repo:
            inspector = feast_info.Inspector(repo)
            described, views = inspector.describe()
            described["registry_missing"] = repo.registry_missing
            results = [inspector.probe(probe, views) for probe in params["probes"]]
            schema = []
            if params["check_schema"]:
                names = []
                for probe in params["probes"]:
                    if probe["feature_view"] not in names:
                        names.append(probe["feature_view"])
                schema = [inspector.schema(name, views) for name in names]
    except MlopsError as exc:
        module.fail_json(**exc.fail_kwargs())
    stale, ok = feast_freshness.summarize(results)
    ok = ok and not any(entry["problems"] for entry in schema)
    module.exit_json(changed=False, freshness=results, schema=schema, stale=stale, ok=ok, **described)


if __name__ == "__main__":
    main()
