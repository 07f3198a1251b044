# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The offline bundle's manifest: read it and check every file against it.

One implementation for both readers: the ``bundle_manifest`` module (the
Kubernetes roles verify a bundle before they install anything from it) and
``scripts/bundle`` (which builds bundles from source and verifies them before
it moves them into its cache).

A bundle is a directory with ``manifest.json`` at its root. The manifest
lists every other file with its ``path`` (relative), ``sha256``, ``size``,
``component``, ``version`` and ``origin``; images also carry ``image`` (the
name kubeadm and containerd know them by) and ``manifest_digest``.
"""

from __future__ import annotations

import hashlib
import json
import os

LAYOUT = 1
MANIFEST = "manifest.json"


class BundleInvalid(Exception):
    """The bundle does not match its manifest; ``problems`` lists each file."""

    def __init__(self, path, problems):
        self.path = path
        self.problems = list(problems)
        super().__init__(
            "bundle %s does not match its manifest:\n  - %s\nFix: fetch or build the bundle again "
            "(playbooks/bundle.yml, or scripts/bundle build --force); never install from it as it is"
            % (path, "\n  - ".join(self.problems)))


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(path):
    """The parsed manifest of the bundle at ``path``; BundleInvalid if it is unreadable."""
    mfile = os.path.join(path, MANIFEST)
    try:
        with open(mfile) as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        raise BundleInvalid(path, ["%s: cannot be read (%s): not a bundle, or a half-written one" % (MANIFEST, exc)])
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise BundleInvalid(path, ["%s: has no list of files" % MANIFEST])
    if manifest.get("layout") != LAYOUT:
        raise BundleInvalid(path, ["%s: layout %r; this collection reads layout %d"
                                   % (MANIFEST, manifest.get("layout"), LAYOUT)])
    return manifest


def _inside(root, rel):
    full = os.path.normpath(os.path.join(root, rel))
    return full if (full + os.sep).startswith(os.path.normpath(root) + os.sep) and not os.path.isabs(rel) else None


def verify_bundle(path, checksums=True):
    """Check every listed file (size, and sha256 unless ``checksums`` is false) and that nothing else is there.

    Returns the manifest; raises BundleInvalid naming every file that is missing, differs, or is not listed.
    """
    manifest = read_manifest(path)
    problems = []
    listed = set()
    for entry in manifest["files"]:
        rel = entry.get("path") if isinstance(entry, dict) else None
        if not rel or not isinstance(rel, str):
            problems.append("%s: an entry without a path: %r" % (MANIFEST, entry))
            continue
        full = _inside(path, rel)
        if full is None:
            problems.append("%s: path %r points outside the bundle" % (MANIFEST, rel))
            continue
        listed.add(os.path.normpath(rel))
        if not os.path.isfile(full):
            problems.append("%s: missing" % rel)
            continue
        size = os.path.getsize(full)
        if entry.get("size") is not None and size != entry["size"]:
            problems.append("%s: %d bytes, the manifest says %d" % (rel, size, entry["size"]))
            continue
        if checksums:
            got = file_sha256(full)
            if got != entry.get("sha256"):
                problems.append("%s: sha256 %s does not match the manifest's %s" % (rel, got, entry.get("sha256")))
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            rel = os.path.normpath(os.path.relpath(os.path.join(dirpath, name), path))
            if rel != MANIFEST and rel not in listed:
                problems.append("%s: not in the manifest" % rel)
    if problems:
        raise BundleInvalid(path, sorted(problems))
    return manifest


def entry_of(manifest, component):
    """The file entry of one component (``bin/<name>`` components are named after the binary)."""
    for entry in manifest["files"]:
        if entry.get("component") == component:
            return entry
    return None
