# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: versions
short_description: Read a pinned version, checksum or digest from the collection's versions.yml
version_added: 0.1.0
description:
  - Returns entries of C(versions.yml) at the root of the collection, the one file that pins every component the
    roles install (version, download checksum or image digest), by dotted path.
  - Roles take their defaults from it, so a version is changed in one place.
author:
  - baremetal.mlops contributors (@baremetal-mlops)
options:
  _terms:
    description: Dotted paths into versions.yml, e.g. C(nvidia.driver.version).
    required: true
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Show the pinned Kubernetes version
  ansible.builtin.debug:
    msg: "{{ lookup('baremetal.mlops.versions', 'kubernetes.version') }}"
"""

RETURN = r"""
_raw:
  description: The value at each path (a string, or a dict for a section).
  type: list
  elements: raw
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.lookup import LookupBase

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML is a dependency of ansible-core
    yaml = None

VERSIONS_FILE = os.path.join(os.path.dirname(__file__), "..", "..", "versions.yml")


def load_versions(path=VERSIONS_FILE):
    try:
        with open(path) as f:
            return yaml.safe_load(f) or {}
    except (IOError, OSError) as e:
        raise AnsibleLookupError("versions.yml of baremetal.mlops not readable at %s: %s" % (path, to_native(e)))


def resolve(data, dotted):
    value = data
    walked = []
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            where = ".".join(walked) or "the top level"
            choices = ", ".join(sorted(value)) if isinstance(value, dict) else "none (not a section)"
            raise AnsibleLookupError("versions.yml has no '%s' under %s; there: %s" % (key, where, choices))
        value = value[key]
        walked.append(key)
    return value


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        data = load_versions()
        return [resolve(data, term) for term in terms]
