# Copyright (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What ``playbooks/bundle.yml`` downloads, from where, verified against which pin.

``download_plan(versions, release, arch)`` turns the pins of ``versions.yml``
into the same bundle layout ``scripts/bundle`` builds from source:

- ``downloads``: one entry per upstream file (``url``, ``checksum`` as
  ``sha256:<hex>`` for ``ansible.builtin.get_url``, ``dest`` under the
  download directory) and, for archives, the ``members`` to take out of it
  and where they go in the bundle;
- ``images``: every image kubeadm lists and the add-ons (the NVIDIA device
  plugin), by name, with the registry digest
  versions.yml pins (``digest: None`` where none is pinned) and the
  ``source`` skopeo copies from: by digest when pinned, else by tag;
- ``unpinned``: the image names without a digest (the playbook refuses them
  unless told to trust what the registry serves, and then records the digest
  it got);
- ``errors``: everything that keeps the plan from being complete, each naming
  the versions.yml key and the fix. Nothing is downloaded unless it is empty.
"""

from __future__ import annotations

import re

DL_K8S = "https://dl.k8s.io"
GITHUB = "https://github.com"
SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


def _pin(errors, value, where):
    if not isinstance(value, str) or not SHA256.match(value):
        errors.append("%s: %r is not a sha256:<64 hex> checksum; add upstream's published checksum" % (where, value))
        return None
    return value


def image_names(release, rel):
    """Image name -> (component, path of its versions.yml entry, key of its digest), as kubeadm lists them."""
    names = {}
    for comp in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"):
        names["registry.k8s.io/%s:v%s" % (comp, release)] = (
            comp, ("kubernetes", "releases", release, "image_digests"), comp)
    names["registry.k8s.io/etcd:%s" % rel.get("etcd_image_tag")] = ("etcd", ("etcd", str(rel.get("etcd"))),
                                                                    "image_digest")
    names["registry.k8s.io/coredns/coredns:v%s" % rel.get("coredns")] = (
        "coredns", ("coredns", str(rel.get("coredns"))), "image_digest")
    names["registry.k8s.io/pause:%s" % rel.get("pause")] = ("pause", ("pause", str(rel.get("pause"))), "image_digest")
    return names


def addon_image_names(versions):
    """Images the bundle carries beside kubeadm's (add-ons the roles deploy), same shape as image_names."""
    plugin = (versions.get("nvidia") or {}).get("device_plugin") or {}
    if not plugin.get("version") or not plugin.get("image"):
        return {}
    return {"%s:v%s" % (plugin["image"], plugin["version"]): (
        "nvidia-device-plugin", ("nvidia", "device_plugin"), "image_digest")}


def image_file(name):
    return "images/%s.tar" % re.sub(r"[^A-Za-z0-9._-]", "_", name.split("/", 1)[1])


def download_plan(versions, release=None, arch="amd64"):
    errors = []
    k8s = versions.get("kubernetes") or {}
    release = str(release or k8s.get("version") or "")
    releases = k8s.get("releases") or {}
    if release not in releases:
        return {"release": release, "arch": arch, "downloads": [], "images": [], "unpinned": [],
                "errors": ["kubernetes.releases has no entry for Kubernetes %r (it has %s): add it or pin one of those"
                           % (release, ", ".join(sorted(releases)) or "none")]}
    arches = (versions.get("bundle") or {}).get("architectures") or []
    if arch not in arches:
        errors.append("bundle.architectures is %s: architecture %r is not one of them" % (arches, arch))
    rel = releases[release] or {}
    rt = versions.get("container_runtime") or {}
    downloads = []

    for binary in ("kubeadm", "kubelet", "kubectl"):
        checksum = _pin(errors, ((rel.get("binaries") or {}).get(binary) or {}).get(arch),
                        "kubernetes.releases.%s.binaries.%s.%s" % (release, binary, arch))
        downloads.append({"component": binary, "version": release, "checksum": checksum,
                          "url": "%s/release/v%s/bin/linux/%s/%s" % (DL_K8S, release, arch, binary),
                          "dest": binary, "members": {binary: "bin/" + binary}})

    cd = rt.get("containerd") or {}
    cv = cd.get("version")
    downloads.append({
        "component": "containerd", "version": cv,
        "checksum": _pin(errors, (cd.get("archive") or {}).get(arch), "container_runtime.containerd.archive.%s" % arch),
        "url": "%s/containerd/containerd/releases/download/v%s/containerd-%s-linux-%s.tar.gz" % (GITHUB, cv, cv, arch),
        "dest": "containerd-%s-linux-%s.tar.gz" % (cv, arch),
        "members": {"bin/containerd": "bin/containerd", "bin/containerd-shim-runc-v2": "bin/containerd-shim-runc-v2",
                    "bin/ctr": "bin/ctr"}})

    runc = rt.get("runc") or {}
    downloads.append({
        "component": "runc", "version": runc.get("version"),
        "checksum": _pin(errors, (runc.get("binary") or {}).get(arch), "container_runtime.runc.binary.%s" % arch),
        "url": "%s/opencontainers/runc/releases/download/v%s/runc.%s" % (GITHUB, runc.get("version"), arch),
        "dest": "runc.%s" % arch, "members": {"runc.%s" % arch: "bin/runc"}})

    cni = rt.get("cni_plugins") or {}
    nv = cni.get("version")
    downloads.append({
        "component": "cni_plugins", "version": nv,
        "checksum": _pin(errors, (cni.get("archive") or {}).get(arch), "container_runtime.cni_plugins.archive.%s" % arch),
        "url": "%s/containernetworking/plugins/releases/download/v%s/cni-plugins-linux-%s-v%s.tgz" % (GITHUB, nv, arch, nv),
        "dest": "cni-plugins-linux-%s-v%s.tgz" % (arch, nv),
        "members": dict(("./" + p, "cni/bin/" + p) for p in cni.get("plugins") or [])})

    crictl = rt.get("crictl") or {}
    xv = crictl.get("version")
    downloads.append({
        "component": "crictl", "version": xv,
        "checksum": _pin(errors, (crictl.get("archive") or {}).get(arch), "container_runtime.crictl.archive.%s" % arch),
        "url": "%s/kubernetes-sigs/cri-tools/releases/download/v%s/crictl-v%s-linux-%s.tar.gz" % (GITHUB, xv, xv, arch),
        "dest": "crictl-v%s-linux-%s.tar.gz" % (xv, arch), "members": {"crictl": "bin/crictl"}})

    ev = rel.get("etcd")
    etcd = (versions.get("etcd") or {}).get(ev)
    if etcd is None:
        errors.append("etcd %s (named by Kubernetes %s) has no entry under `etcd:` in versions.yml" % (ev, release))
        etcd = {}
    downloads.append({
        "component": "etcdctl", "version": ev,
        "checksum": _pin(errors, (etcd.get("archive") or {}).get(arch), "etcd.%s.archive.%s" % (ev, arch)),
        "url": "%s/etcd-io/etcd/releases/download/v%s/etcd-v%s-linux-%s.tar.gz" % (GITHUB, ev, ev, arch),
        "dest": "etcd-v%s-linux-%s.tar.gz" % (ev, arch),
        "members": {"etcd-v%s-linux-%s/etcdctl" % (ev, arch): "bin/etcdctl",
                    "etcd-v%s-linux-%s/etcdutl" % (ev, arch): "bin/etcdutl"}})

    for entry in downloads:
        entry["members_list"] = [{"key": k, "value": v} for k, v in sorted(entry["members"].items())]
        if not entry["version"]:
            errors.append("%s: no version pinned in versions.yml" % entry["component"])

    images, unpinned = [], []
    wanted = dict(image_names(release, rel))
    wanted.update(addon_image_names(versions))
    for name, (comp, keys, key) in sorted(wanted.items()):
        node = versions
        for part in keys:
            node = node.get(part) if isinstance(node, dict) else None
        section = ".".join(keys)
        if node is None and keys[0] in ("etcd", "coredns", "pause"):
            errors.append("%s has no entry in versions.yml (image %s)" % (section, name))
        digest = (node or {}).get(key) if isinstance(node, dict) else None
        if digest is not None and not SHA256.match(str(digest)):
            errors.append("%s.%s: %r is not a sha256:<64 hex> digest" % (section, key, digest))
            digest = None
        repo = name.rsplit(":", 1)[0]
        images.append({"name": name, "component": comp, "digest": digest, "path": image_file(name),
                       "source": "docker://%s@%s" % (repo, digest) if digest else "docker://%s" % name,
                       "pin": "%s.%s" % (section, key)})
        if digest is None:
            unpinned.append(name)
    return {"release": release, "arch": arch, "downloads": downloads, "images": images, "unpinned": unpinned,
            "errors": errors}


def pins_of(plan):
    """The ``pins`` of the manifest a downloaded bundle gets (the same keys scripts/bundle writes)."""
    by = dict((d["component"], d["version"]) for d in plan["downloads"])
    pins = {"kubernetes": plan["release"], "containerd": by.get("containerd"), "runc": by.get("runc"),
            "cni_plugins": by.get("cni_plugins"), "crictl": by.get("crictl"), "etcd": by.get("etcdctl")}
    for image in plan["images"]:
        tag = image["name"].rsplit(":", 1)[1]
        if image["component"] == "etcd":
            pins["etcd_image_tag"] = tag
        elif image["component"] in ("coredns", "pause"):
            pins[image["component"]] = tag.lstrip("v")
        elif image["component"] == "nvidia-device-plugin":
            pins["nvidia_device_plugin"] = tag.lstrip("v")
    return pins


def image_entry(pair):
    """[plan image, parsed index.json of its archive] -> the manifest's image entry."""
    image, index = pair
    manifests = index.get("manifests") or []
    if len(manifests) != 1:
        raise ValueError("%s: the archive's index lists %d manifests, expected 1" % (image["path"], len(manifests)))
    return {"name": image["name"], "path": image["path"], "manifest_digest": manifests[0]["digest"],
            "pinned_digest": image["digest"]}


def file_entries(stat_results, plan, images):
    """ansible.builtin.stat results (sha256) -> the manifest's ``files``."""
    origin = {}
    for d in plan["downloads"]:
        for dest in d["members"].values():
            # Named per file, as scripts/bundle names them (bin/ctr is "ctr", bin/etcdutl "etcdutl").
            origin[dest] = ("cni-plugin-" + dest.rsplit("/", 1)[1] if dest.startswith("cni/") else dest.rsplit("/", 1)[1],
                            d["version"], "downloaded from %s, sha256 verified against versions.yml (%s)"
                            % (d["url"], d["checksum"]))
    by_path = dict((i["path"], i) for i in images)
    for image in plan["images"]:
        got = by_path.get(image["path"], {})
        how = ("copied by the pinned digest %s" % image["digest"] if image["digest"]
               else "copied by tag and trusted on first use (no digest pinned in versions.yml)")
        origin[image["path"]] = ("image " + image["name"], image["name"].rsplit(":", 1)[1],
                                 "%s from %s; %s" % (how, image["source"], got.get("manifest_digest")))
    files = []
    for res in stat_results:
        rel = res["item"]
        st = res.get("stat") or {}
        if not st.get("exists"):
            raise ValueError("%s is missing from the bundle after the download" % rel)
        comp, version, how = origin[rel]
        entry = {"path": rel, "sha256": st["checksum"], "size": st["size"], "component": comp, "version": version,
                 "origin": how}
        if rel in by_path:
            entry.update({"image": by_path[rel]["name"], "manifest_digest": by_path[rel]["manifest_digest"]})
        files.append(entry)
    return sorted(files, key=lambda f: f["path"])
