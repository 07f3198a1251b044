#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: bundle_manifest
short_description: Read an offline bundle's manifest and check every file against it
version_added: 0.1.0
description:
  - Reads C(manifest.json) of an offline bundle (the directory C(playbooks/bundle.yml) downloads, or
    C(scripts/bundle) builds from source) and checks that every file it lists is there with its size and
    SHA-256, and that no file is there that it does not list.
  - Fails naming every file that is missing, differs or is unlisted, so a role that runs it first installs nothing
    from a damaged bundle.
  - Optionally compares the versions the bundle was made for (C(pins)) with the versions the caller expects
    (from C(versions.yml)), so a bundle of another release is refused before anything is copied.
  - Usually run on the controller, where the bundle is (with C(delegate_to) V(localhost) and C(run_once)).
author:
  - baremetal.mlops contributors (@baremetal-mlops)
extends_documentation_fragment:
  - baremetal.mlops.attributes
  - baremetal.mlops.attributes.info
options:
  path:
    description: Directory of the bundle (it holds C(manifest.json)).
    type: path
    required: true
  checksums:
    description:
      - Compute the SHA-256 of every file. With V(false) only presence and sizes are checked (seconds faster on
        a large bundle, and blind to a same-size corruption).
    type: bool
    default: true
  expect:
    description:
      - Versions the bundle must have been made for, compared with the manifest's C(pins) (keys such as
        C(kubernetes), C(containerd), C(runc), C(cni_plugins), C(crictl), C(etcd), C(coredns), C(pause)).
      - A key the manifest does not pin is a mismatch too.
    type: dict
    default: {}
notes:
  - The checksums in a bundle built by C(scripts/bundle) are that build's own (it says so in C(source)); those of a
    bundle fetched by C(playbooks/bundle.yml) were checked against upstream's published checksums when it was
    fetched. This module checks the bundle against its own manifest either way.
seealso:
  - name: The offline bundle
    description: Layout and origin of each file (docs/bundle.md).
    link: https://github.com/baremetal-mlops/baremetal.mlops/blob/main/docs/bundle.md
"""

EXAMPLES = r"""
- name: Verify the bundle before installing from it
  baremetal.mlops.bundle_manifest:
    path: "{{ mlops_bundle_dir }}"
    expect:
      kubernetes: "{{ lookup('baremetal.mlops.versions', 'kubernetes.version') }}"
      containerd: "{{ lookup('baremetal.mlops.versions', 'container_runtime.containerd.version') }}"
  delegate_to: localhost
  run_once: true
  register: bundle
"""

RETURN = r"""
manifest:
  description: The parsed manifest (layout, kubernetes, source, pins, images, files).
  returned: success
  type: dict
files_checked:
  description: Number of files checked.
  returned: success
  type: int
  sample: 21
images:
  description: Images in the bundle, each with C(name), C(path) (relative) and C(manifest_digest).
  returned: success
  type: list
  elements: dict
  sample:
    - name: registry.k8s.io/pause:3.10.1
      path: images/pause_3.10.1.tar
      manifest_digest: sha256:0c8e...
problems:
  description: What did not match (on failure).
  returned: failure
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.baremetal.mlops.plugins.module_utils.bundle.manifest import (
    BundleInvalid,
    verify_bundle,
)


def pin_mismatches(manifest, expect):
    pins = manifest.get("pins") or {}
    problems = []
    for key in sorted(expect):
        want = str(expect[key])
        got = pins.get(key)
        if got is None:
            problems.append("the bundle does not say which %s it was made for (expected %s)" % (key, want))
        elif str(got) != want:
            problems.append("the bundle was made for %s %s, but %s is expected" % (key, got, want))
    return problems


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            checksums=dict(type="bool", default=True),
            expect=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    if not os.path.isdir(path):
        module.fail_json(msg="bundle directory %s does not exist: build it (scripts/bundle build) or fetch it "
                             "(playbooks/bundle.yml) and point the role at it" % path, problems=["%s: missing" % path])
    try:
        manifest = verify_bundle(path, checksums=module.params["checksums"])
    except BundleInvalid as exc:
        module.fail_json(msg=str(exc), problems=exc.problems)
    problems = pin_mismatches(manifest, module.params["expect"])
    if problems:
        module.fail_json(msg="bundle %s is not the one versions.yml pins:\n  - %s\nFix: build or fetch the bundle "
                             "for these versions" % (path, "\n  - ".join(problems)), problems=problems)
    module.exit_json(changed=False, manifest=manifest, files_checked=len(manifest["files"]),
                     images=manifest.get("images", []))


if __name__ == "__main__":
    main()
