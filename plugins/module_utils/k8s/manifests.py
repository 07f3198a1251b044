# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""An operator's release manifest, pointed at the images of the platform bundle.

Operators ship one manifest per release (CRDs, RBAC, webhooks, the
controller's Deployment) that names their upstream images. An air-gapped
rack runs the images the bundle built instead: ``replace_images`` swaps
every upstream reference for ours, in container images and in environment
values (operators tell their controller which image to copy into the pods
they create that way, e.g. CloudNativePG's OPERATOR_IMAGE_NAME), and
refuses a manifest with a container image it has no replacement for, so
that a new release naming a new image fails here, not as ImagePullBackOff
on the rack. The bundle's tags stay the same when an image is rebuilt (new
packages at the same version): given the images' digests, each pod
template that runs a replaced image is annotated with them, so that a
rebuilt image rolls the pods that run it.
"""

from __future__ import annotations

import copy


DIGEST_ANNOTATION = "baremetal.mlops/image-digests"


class UnknownImage(ValueError):
    """A container of the manifest runs an image that the mapping does not replace."""


def _containers(node):
    """Every container (and init container) dict anywhere under node."""
    if isinstance(node, dict):
        for key in ("containers", "initContainers"):
            for item in node.get(key) or [] if isinstance(node.get(key), list) else []:
                if isinstance(item, dict):
                    yield item
        for value in node.values():
            yield from _containers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _containers(value)


def _pod_templates(node):
    """Every pod template ({metadata, spec: {containers}}) anywhere under node."""
    if isinstance(node, dict):
        if isinstance(node.get("spec"), dict) and isinstance(node["spec"].get("containers"), list):
            yield node
        for value in node.values():
            yield from _pod_templates(value)
    elif isinstance(node, list):
        for value in node:
            yield from _pod_templates(value)


def replace_images(docs, mapping, pull_policy=None, digests=None):
    """docs (a list of manifests, None entries dropped) with every upstream image of mapping replaced.

    mapping: {upstream image reference: our image reference}. pull_policy, when given, is set on every
    container whose image was replaced. digests: {our image reference: digest}; a pod template running one
    of them is annotated with their digests. Raises UnknownImage naming the containers whose image is neither
    an upstream key nor one of ours.
    """
    ours = set(mapping.values())
    out = [copy.deepcopy(d) for d in docs if d]
    unknown = []
    for doc in out:
        name = "%s/%s" % (doc.get("kind", "?"), (doc.get("metadata") or {}).get("name", "?"))
        for container in _containers(doc.get("spec")):
            image = container.get("image")
            if image in mapping:
                container["image"] = mapping[image]
                if pull_policy:
                    container["imagePullPolicy"] = pull_policy
            elif image not in ours:
                unknown.append("%s container %s: %s" % (name, container.get("name", "?"), image))
            for env in container.get("env") or []:
                if isinstance(env, dict) and env.get("value") in mapping:
                    env["value"] = mapping[env["value"]]
    for doc in out:
        for template in _pod_templates(doc.get("spec")):
            images = [c.get("image") for key in ("containers", "initContainers")
                      for c in template["spec"].get(key) or [] if isinstance(c, dict)]
            found = sorted({(digests or {})[i] for i in images if i in (digests or {})})
            if found:
                template.setdefault("metadata", {}).setdefault("annotations", {})[DIGEST_ANNOTATION] = ",".join(found)
    if unknown:
        raise UnknownImage("the manifest runs images the platform bundle does not replace: " + "; ".join(unknown))
    return out
