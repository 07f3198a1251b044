#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mlflow_model_alias
short_description: Point an alias of an MLflow registered model at a version, or remove it
version_added: 0.1.0
description:
  - Makes the alias O(alias) (e.g. C(champion), C(challenger)) of the registered model O(name) point to version
    O(version) (O(state=present)), or removes it (O(state=absent)).
  - Moving an alias from another version reports a change and returns the version it pointed to before as
    RV(previous_version); an alias that already points to O(version) is not touched.
  - With O(state=present), a version (or a registered model) that does not exist is refused with an error naming
    the versions there are; nothing is changed. With O(state=absent), a model that does not exist has no alias to
    remove, which is no change.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
requirements:
  - mlflow
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.state_changing
  - baremetal.mlops.mlflow
  - baremetal.mlops.attributes.actiongroup_mlflow
options:
  name:
    description: Name of the registered model.
    type: str
    required: true
  alias:
    description:
      - The alias. MLflow refuses C(latest) and names of the form C(v<number>), which it reserves.
    type: str
    required: true
  version:
    description:
      - The version the alias must point to; required with O(state=present).
      - With O(state=absent), the alias is only removed while it points to this version; without it, the alias is
        removed wherever it points.
    type: int
  state:
    description: Whether the alias exists.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: Promote version 4 to champion
  baremetal.mlops.mlflow_model_alias:
    tracking_uri: http://mlflow.mlops.svc:5000
    name: fraud-detector
    alias: champion
    version: 4
  register: promotion

- name: Say which version was champion before
  ansible.builtin.debug:
    msg: "champion moved from {{ promotion.previous_version }} to {{ promotion.version }}"
  when: promotion is changed

- name: Remove the challenger alias
  baremetal.mlops.mlflow_model_alias:
    name: fraud-detector
    alias: challenger
    state: absent
"""

RETURN = r"""
alias:
  description: The alias.
  returned: success
  type: str
  sample: champion
version:
  description: The version the alias points to afterwards (predicted in check mode); null when it does not exist.
  returned: success
  type: int
  sample: 4
previous_version:
  description: The version the alias pointed to before; null when it did not exist.
  returned: success
  type: int
  sample: 3
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.baremetal.mlops.plugins.module_utils.common.exceptions import MlopsError
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow import registry
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.client import (
    HAS_MLFLOW,
    MLFLOW_IMPORT_ERROR,
    check_timeout,
    connect,
    connection_kwargs,
    mlflow_argspec,
)
from ansible_collections.baremetal.mlops.plugins.module_utils.mlflow.exceptions import MlflowRefusedError


def argspec():
    return mlflow_argspec(
        name=dict(type="str", required=True),
        alias=dict(type="str", required=True),
        version=dict(type="int"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )


def main():
    kwargs = connection_kwargs()
    kwargs["required_if"] = [("state", "present", ("version",))]
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True, **kwargs)
    if not HAS_MLFLOW:
        module.fail_json(msg=missing_required_lib("mlflow"), exception=MLFLOW_IMPORT_ERROR)
    params = module.params
    problem = check_timeout(params["timeout"])
    if problem:
        module.fail_json(msg=problem)
    name, alias, version = params["name"], params["alias"], params["version"]
    try:
        conn = connect(params)
        model = registry.get_registered_model(conn, name)
        if model is None and params["state"] == "present":
            raise MlflowRefusedError(
                "registered model '%s' does not exist; nothing was changed." % name, tracking_uri=conn.tracking_uri,
                hint="register a version first (baremetal.mlops.mlflow_model_version), or fix the model name")
        if params["state"] == "present":
            registry.require_version(conn, name, version)
        plan = registry.plan_alias(model.aliases if model is not None else {}, alias, params["state"], version)
        after = plan["version"]
        if plan["action"] and not module.check_mode:
            if plan["action"] == "set":
                conn.call("point alias '%s' of model '%s' to version %d" % (alias, name, version),
                          "set_registered_model_alias", name, alias, str(version))
            else:
                conn.call("remove alias '%s' of model '%s'" % (alias, name), "delete_registered_model_alias",
                          name, alias)
            after = registry.registered_model_view(registry.get_registered_model(conn, name))["aliases"].get(alias)
    except MlopsError as exc:
        module.fail_json(**exc.fail_kwargs())
    result = dict(changed=plan["previous_version"] != after, alias=alias, version=after,
                  previous_version=plan["previous_version"])
    if module._diff:
        result["diff"] = dict(before=dict(alias=alias, version=plan["previous_version"]),
                              after=dict(alias=alias, version=after))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
