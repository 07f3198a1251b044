#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: feast_apply
short_description: Apply a Feast feature repository to its registry, like C(feast apply)
version_added: 0.1.0
description:
  - Loads the feature repository at O(repo_path) (C(feature_store.yaml) and its Python definitions), compares its
    objects (project, data sources, entities, feature views, feature services, permissions, ...) with what the
    registry holds for the project, and registers the difference, deleting the objects the repository no longer
    defines, as C(feast apply) does.
  - Returns what changed by kind and name in RV(changes), also in check mode (what would change). An object is
    updated when its definition (its spec, after Feast's schema inference) differs from the registry's; what the
    registry fills in itself (timestamps, materialization intervals) does not count, so a second run changes nothing.
  - In check mode the registry is only read; not even Feast's own bookkeeping (creating the registry tables, the
    project's metadata row) is written.
  - Errors name the registry's or online store's endpoint (C(host:port), never credentials), what failed and the fix.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.state_changing
  - baremetal.mlops.feast
  - baremetal.mlops.attributes.actiongroup_feast
attributes:
  diff_mode:
    details: The diff shows, by kind, the names of the objects in the registry before and after (predicted in check
      mode).
options: {}
"""

EXAMPLES = r"""
- name: Apply the feature repository
  baremetal.mlops.feast_apply:
    repo_path: /srv/feast/driver_repo
    environment:
      MLOPS_PG_PASSWORD: "{{ vault_feast_pg_password }}"
      MLOPS_REDIS_PASSWORD: "{{ vault_feast_redis_password }}"
  environment:
    MLOPS_PG_HOST: db.lab.internal
    MLOPS_REDIS_HOST: redis.lab.internal
  register: feast_applied

- name: Show what changed
  ansible.builtin.debug:
    var: feast_applied.changes
"""

RETURN = r"""
project:
  description: The Feast project of the repository (C(project) in C(feature_store.yaml)).
  returned: always
  type: str
  sample: mlops_verify
changes:
  description:
    - The objects added, updated and removed (in check mode, those that would be), each a list of C(kind) and
      C(name), sorted by kind then name. Kinds are V(project), V(data_source), V(entity), V(feature_view),
      V(on_demand_feature_view), V(stream_feature_view), V(label_view), V(feature_service) and V(permission).
  returned: always
  type: dict
  contains:
    added:
      description: Objects the repository defines that the registry lacks.
      type: list
      elements: dict
      sample: [{kind: entity, name: driver}, {kind: feature_view, name: driver_hourly_stats}]
    updated:
      description: Objects whose definition differs from the registry's.
      type: list
      elements: dict
      sample: [{kind: feature_view, name: driver_hourly_stats}]
    removed:
      description: Objects of the project in the registry that the repository no longer defines.
      type: list
      elements: dict
      sample: []
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError
from ansible_collections.baremetal.mlops.plugins.module_utils.feast import apply as feast_apply
from ansible_collections.baremetal.mlops.plugins.module_utils.feast import store as feast_store

# feast is imported, guarded (try/except ImportError), by module_utils/feast/store.py.
HAS_FEAST = feast_store.HAS_FEAST
FEAST_IMPORT_ERROR = feast_store.FEAST_IMPORT_ERROR


def argspec():
    return feast_store.argument_spec()


def main():
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True)
    if not HAS_FEAST:
        module.fail_json(msg=missing_required_lib("feast"), exception=FEAST_IMPORT_ERROR)
    params = module.params
    try:
        with feast_store.open_repo(params["repo_path"], env=params["environment"], timeout=params["timeout"],
                                   read_only=module.check_mode) as repo:
            applier = feast_apply.RepoApplier(repo)
            current, desired, changes = applier.plan()
            before = feast_apply.fingerprints(current)
            after = before
            if feast_apply.has_changes(changes) and not module.check_mode:
                after = feast_apply.fingerprints(applier.apply(current, desired, changes))
                # What the registry holds now, compared with what it held (not with the prediction).
                changes = feast_apply.compute_changes(before, after)
            elif feast_apply.has_changes(changes):
                after = feast_apply.predict_after(before, changes)
            changed = feast_apply.has_changes(changes) if module.check_mode else before != after
            project = repo.project
    except MlopsError as exc:
        module.fail_json(**exc.fail_kwargs())
    result = dict(changed=changed, project=project, changes=changes)
    if module._diff:
        result["diff"] = dict(before=feast_apply.names_by_kind(before), after=feast_apply.names_by_kind(after))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
