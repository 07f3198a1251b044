"""module_utils/k8s/manifests.py: an operator's release manifest pointed at the platform bundle's images.
The documents are shaped as CloudNativePG 1.30.0's releases/cnpg-1.30.0.yaml writes them (its Deployment and a
CRD whose schema has `image` properties); the real manifest is checked in the platform bundle's test."""
import pytest

from ansible_collections.baremetal.mlops.plugins.module_utils.k8s.manifests import UnknownImage, replace_images

UPSTREAM = "ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0"
OURS = "localhost/baremetal-mlops/cloudnative-pg:1.30.0"
DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "cnpg-controller-manager"},
    "spec": {"template": {"spec": {"containers": [{
        "name": "manager", "image": UPSTREAM, "imagePullPolicy": "Always",
        "env": [{"name": "OPERATOR_IMAGE_NAME", "value": UPSTREAM},
                {"name": "OPERATOR_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]}]}}}}
CRD = {"kind": "CustomResourceDefinition", "metadata": {"name": "clusters.postgresql.cnpg.io"},
       "spec": {"versions": [{"schema": {"properties": {"image": {"type": "string"}}}}]}}


def test_images_and_env_values_are_replaced_and_the_input_is_left_alone():
    docs = [None, CRD, DEPLOYMENT]
    out = replace_images(docs, {UPSTREAM: OURS}, "Never")
    assert len(out) == 2 and out[0] == CRD
    container = out[1]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == OURS and container["imagePullPolicy"] == "Never"
    assert container["env"][0] == {"name": "OPERATOR_IMAGE_NAME", "value": OURS}
    assert DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["image"] == UPSTREAM
    # Applying the result again changes nothing (a second run of the role).
    assert replace_images(out, {UPSTREAM: OURS}, "Never") == out


def test_a_container_image_without_a_replacement_is_refused_naming_it():
    other = {"kind": "Deployment", "metadata": {"name": "sidecar"},
             "spec": {"template": {"spec": {"initContainers": [{"name": "init", "image": "quay.io/x/y:1"}],
                                            "containers": []}}}}
    with pytest.raises(UnknownImage, match=r"Deployment/sidecar container init: quay.io/x/y:1"):
        replace_images([DEPLOYMENT, other], {UPSTREAM: OURS})


def test_a_pod_template_running_a_replaced_image_carries_its_digest_so_a_rebuild_rolls_it():
    out = replace_images([CRD, DEPLOYMENT], {UPSTREAM: OURS}, "Never", {OURS: "sha256:aaa"})
    template = out[1]["spec"]["template"]
    assert template["metadata"]["annotations"] == {"baremetal.mlops/image-digests": "sha256:aaa"}
    rebuilt = replace_images([CRD, DEPLOYMENT], {UPSTREAM: OURS}, "Never", {OURS: "sha256:bbb"})
    assert rebuilt[1]["spec"]["template"]["metadata"]["annotations"]["baremetal.mlops/image-digests"] == "sha256:bbb"
    assert "metadata" not in out[0]["spec"]["versions"][0]  # a CRD's schema is not a pod template
