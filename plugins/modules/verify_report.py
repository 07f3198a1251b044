#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: verify_report
short_description: Write the verify report (JSON and summary) and fail when a check failed
version_added: 0.1.0
description:
  - Takes the check records that the C(verify) role gathered, writes a JSON report and a human summary, returns both,
    and fails - listing every failure with its layer, component, what was seen, what was expected and the fix - when
    any check failed or did not run for a reason the operator did not choose, or when no check ran.
  - A check has one of three outcomes (C(status)) - V(passed), V(failed) or V(not_run). A V(not_run) check with
    C(chosen=true) (the operator left it out, for example C(compare_version=false)) counts as passed and is listed as
    skipped; any other V(not_run) counts as a failure.
  - Every check of the catalog of each layer in O(layers) is in the report; one that no record covers is added as
    V(not_run), naming the failure that most likely stopped it - so a check cannot silently drop out.
  - Runs on the controller, in the last play of C(verify.yml).
author:
  - baremetal.mlops contributors (@baremetal-mlops)
extends_documentation_fragment:
  - baremetal.mlops.attributes
attributes:
  check_mode:
    support: full
    details: The report is output of the run, not managed state; it is written in check mode too.
  diff_mode:
    support: none
    details: The report is output, not managed state.
notes:
  - Writing the report does not count as a change (C(changed=false)), so that a verify run stays at C(changed=0).
options:
  checks:
    description:
      - Check records, each with C(layer), C(component), C(check), C(ok), C(seen), C(expected), C(fix), usually
        C(key) and C(status) (C(status) is derived from C(ok) when missing) and, for node checks, C(host).
    type: list
    elements: dict
    required: true
  report_dir:
    description: Directory for C(verify-report.json) and C(verify-summary.txt); created if missing. Not written if unset.
    type: path
  started:
    description: When the verify run started (ISO 8601), for the report.
    type: str
  duration_s:
    description: How long the verify run took, for the report.
    type: float
  layers:
    description: Layers that were selected - their catalog checks are completed (see the description) and the report
      names them.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Verify | Write the report
  baremetal.mlops.verify_report:
    checks: "{{ verify_checks }}"
    report_dir: "{{ verify_report_dir }}"
  delegate_to: localhost
"""

RETURN = r"""
report:
  description: The report, as written to C(verify-report.json). On failure only C(counts) and C(failures) are returned.
  returned: success
  type: dict
  contains:
    ok:
      description: Whether every check passed or was skipped by choice (and at least one passed).
      type: bool
    counts:
      description: Number of checks, passed, failed, not run (counted as failures) and skipped by choice.
      type: dict
      sample: {checks: 14, passed: 12, failed: 1, not_run: 1, skipped: 0}
    failures:
      description: The failed checks and those not run for a reason the operator did not choose.
      type: list
      elements: dict
    checks:
      description: Every check, ordered by layer, host, component.
      type: list
      elements: dict
      sample: [{layer: data_services, component: redis, check: eviction policy, key: redis.policy, status: failed, ok: false,
                seen: "127.0.0.1:6379: maxmemory-policy noeviction", expected: maxmemory-policy allkeys-lru,
                fix: "set maxmemory-policy allkeys-lru"}]
summary:
  description: The human summary, as written to C(verify-summary.txt).
  returned: always
  type: str
report_path:
  description: Path of the JSON report, if written.
  returned: when report_dir is set
  type: str
  sample: /home/ops/verify-report/verify-report.json
"""

import datetime
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.baremetal.mlops.plugins.module_utils.verify import report as verify_report

REQUIRED_KEYS = ("layer", "component", "check", "ok", "seen", "expected")


def argspec():
    return dict(
        checks=dict(type="list", elements="dict", required=True),
        report_dir=dict(type="path"),
        started=dict(type="str"),
        duration_s=dict(type="float"),
        layers=dict(type="list", elements="str"),
    )


def main():
    module = AnsibleModule(argument_spec=argspec(), supports_check_mode=True)
    checks = module.params["checks"]
    bad = [i for i, c in enumerate(checks) if any(k not in c for k in REQUIRED_KEYS)]
    if bad:
        module.fail_json(msg="checks %s lack one of %s" % (", ".join(map(str, bad)), ", ".join(REQUIRED_KEYS)))
    finished = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = verify_report.build(checks, started=module.params["started"], finished=finished,
                                 duration_s=module.params["duration_s"], layers=module.params["layers"])
    summary = verify_report.summary(report)
    result = dict(changed=False, report=report, summary=summary)
    if module.params["report_dir"]:
        directory = module.params["report_dir"]
        try:
            os.makedirs(directory, exist_ok=True)
            for name, text in (("verify-report.json", verify_report.dumps(report)), ("verify-summary.txt", summary)):
                path = os.path.join(directory, name)
                tmp = path + ".tmp"
                with open(tmp, "w") as handle:
                    handle.write(text)
                os.replace(tmp, path)
        except OSError as exc:
            module.fail_json(msg="cannot write the verify report in %s: %s" % (directory, exc), **result)
        result["report_path"] = os.path.join(directory, "verify-report.json")
    if not report["ok"]:
        # The summary says it all; the full report is in the file (and in the result when it passes).
        module.fail_json(msg=summary, counts=report["counts"], failures=report["failures"],
                         report_path=result.get("report_path"))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
