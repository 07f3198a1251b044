#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: feast_materialize
short_description: Materialize Feast feature views into the online store, incrementally
version_added: 0.1.0
description:
  - Loads feature values from the offline store into the online store up to O(end_date), like
    C(feast materialize-incremental), for the feature views in O(feature_views) (default all online ones).
  - Each view starts where its last materialization ended, or at C(now - ttl) the first time (1 year back for a
    ttl of 0). A view already materialized up to O(end_date) is skipped, so a second run with the same
    O(end_date) writes nothing and reports no change.
  - With O(start_date), materializes C([start_date, end_date]) instead, like C(feast materialize START END), unless
    the registry records a materialization that covers that interval already. This is how values older than a
    view's ttl reach the online store (for example to test that stale values are detected).
  - C(changed) compares the registry's materialization intervals of the views before and after.
  - In check mode, returns which views would be materialized and from when to when, and writes nothing.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.state_changing
  - baremetal.mlops.feast
  - baremetal.mlops.attributes.actiongroup_feast
attributes:
  diff_mode:
    details: The diff shows, per feature view, the end of its most recent materialization before and after
      (predicted in check mode).
options:
  end_date:
    description:
      - End of the interval to materialize, ISO8601 (V(2026-05-01T12:00:00Z), an offset, or naive meaning UTC).
      - Default is now. Pin it (for example to the play's start time) for a second run to report no change.
    type: str
  start_date:
    description:
      - Start of the interval to materialize, ISO8601, for every view; default is incremental (each view from
        where its last materialization ended).
    type: str
  feature_views:
    description: Names of the feature views to materialize; default all feature views with C(online=true).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Materialize every online feature view up to the start of the play
  baremetal.mlops.feast_materialize:
    repo_path: /srv/feast/driver_repo
    end_date: "{{ ansible_date_time.iso8601 }}"
    environment:
      MLOPS_PG_PASSWORD: "{{ vault_feast_pg_password }}"
      MLOPS_REDIS_PASSWORD: "{{ vault_feast_redis_password }}"
  register: feast_materialized

- name: Load an old day into the online store
  baremetal.mlops.feast_materialize:
    repo_path: /srv/feast/driver_repo
    feature_views: [driver_hourly_stats]
    start_date: "2026-04-01T00:00:00Z"
    end_date: "2026-04-02T00:00:00Z"
    environment:
      MLOPS_PG_PASSWORD: "{{ vault_feast_pg_password }}"
      MLOPS_REDIS_PASSWORD: "{{ vault_feast_redis_password }}"
"""

RETURN = r"""
project:
  description: The Feast project of the repository.
  returned: always
  type: str
  sample: mlops_verify
feature_views:
  description: Each feature view considered, with the interval it was (in check mode, would be) materialized for.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Feature view name.
      type: str
      sample: driver_hourly_stats
    start:
      description: Start of the interval, ISO8601 in UTC.
      type: str
      sample: "2026-04-30T12:00:00+00:00"
    end:
      description: End of the interval, ISO8601 in UTC.
      type: str
      sample: "2026-05-01T12:00:00+00:00"
    materialized:
      description:
        - Whether the view was materialized (in check mode, would be); false when its interval is empty or already
          covered.
      type: bool
      sample: true
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError
from ansible_collections.baremetal.mlops.plugins.module_utils.feast import materialize as feast_materialize
from ansible_collections.baremetal.mlops.plugins.module_utils.feast import store as feast_store

# feast is imported, guarded (try/except ImportError), by module_utils/feast/store.py.
HAS_FEAST = feast_store.HAS_FEAST
FEAST_IMPORT_ERROR = feast_store.FEAST_IMPORT_ERROR


def argspec():
    return feast_store.argument_spec(
        end_date=dict(type="str"),
        start_date=dict(type="str"),
        feature_views=dict(type="list", elements="str", default=[]),
    )


def _last_ends(intervals):
    return dict((name, feast_materialize.iso(max(e for _s, e in spans)) if spans else None)
                for name, spans in sorted(intervals.items()))


def main():
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True)
    if not HAS_FEAST:
        module.fail_json(msg=missing_required_lib("feast"), exception=FEAST_IMPORT_ERROR)
    params = module.params
    try:
        end = feast_materialize.parse_time(params["end_date"])
        start = feast_materialize.parse_time(params["start_date"]) if params["start_date"] else None
    except ValueError as exc:
        module.fail_json(msg="end_date/start_date: %s" % exc)
    if start is not None and start >= end:
        module.fail_json(msg="start_date %s is not before end_date %s" % (start.isoformat(), end.isoformat()))
    try:
        with feast_store.open_repo(params["repo_path"], env=params["environment"], timeout=params["timeout"],
                                   read_only=module.check_mode) as repo:
            materializer = feast_materialize.Materializer(repo)
            planned, before = materializer.plan(params["feature_views"], end, start=start)
            after = before
            if module.check_mode:
                after = dict((p["name"], before[p["name"]] + ([(p["start"], p["end"])] if p["materialized"] else []))
                             for p in planned)
            elif any(p["materialized"] for p in planned):
                after = materializer.run(planned, end, start=start)
            project = repo.project
    except MlopsError as exc:
        module.fail_json(**exc.fail_kwargs())
    result = dict(changed=before != after, project=project, feature_views=feast_materialize.public(planned))
    if module._diff:
        result["diff"] = dict(before=_last_ends(before), after=_last_ends(after))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
