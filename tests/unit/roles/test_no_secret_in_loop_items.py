"""Class test for secrets in task output: a loop prints each item at -v (skipped ones too), whatever
loop_control.label says, so no task may loop over a value that carries a secret unless it sets no_log.

The secret-carrying variables come from every role's meta/argument_specs.yml: an option marked
no_log, or a dict option with a no_log sub-option (verify_postgresql.password...). Static, over every
task file of roles/ and playbooks/; the real output is searched at -vvv in
tests/integration/test_verify_secrets.py.
"""

from __future__ import annotations

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
LOOP_KEYS = ("loop", "with_items", "with_list", "with_dict", "with_subelements", "with_nested")


def secret_variables():
    names = set()

    def walk(options, top):
        for name, spec in (options or {}).items():
            if spec.get("no_log") or walk(spec.get("options"), False):
                if top:
                    names.add(name)
                else:
                    return True
        return False

    for spec_file in ROOT.glob("roles/*/meta/argument_specs.yml"):
        for entry in (yaml.safe_load(spec_file.read_text()) or {}).get("argument_specs", {}).values():
            walk(entry.get("options"), True)
    return names


def tasks(node):
    if isinstance(node, list):
        for item in node:
            yield from tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
            yield from tasks(node.get(key))


def test_the_secret_variables_are_found():
    names = secret_variables()
    assert {"verify_postgresql", "verify_redis", "verify_s3", "verify_mlflow", "verify_feast",
            "verify_kserve"} <= names, names


def test_no_task_loops_over_a_secret_carrying_value_without_no_log():
    names = secret_variables()
    pattern = re.compile(r"\b(%s)\b" % "|".join(sorted(map(re.escape, names))))
    offenders = []
    files = list(ROOT.glob("roles/*/tasks/*.yml")) + list(ROOT.glob("roles/*/handlers/*.yml")) + \
        list(ROOT.glob("playbooks/*.yml"))
    assert files
    for path in files:
        for task in tasks(yaml.safe_load(path.read_text())):
            for key in LOOP_KEYS:
                if key in task and pattern.search(str(task[key])) and not task.get("no_log"):
                    offenders.append("%s: %s (%s)" % (path.relative_to(ROOT), task.get("name"), key))
    assert offenders == [], offenders
