"""The versions lookup reads the real versions.yml of this checkout."""
import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.baremetal.mlops.plugins.lookup import versions


def test_reads_a_leaf_and_a_section():
    data = versions.load_versions()
    assert versions.resolve(data, "kubernetes.minor") == "1.35"
    assert set(versions.resolve(data, "nvidia.container_toolkit")) >= {"version", "key_fingerprint"}


def test_unknown_path_names_the_missing_key_and_what_is_there():
    with pytest.raises(AnsibleLookupError, match=r"no 'drivr' under nvidia; there: container_toolkit, device_plugin, driver"):
        versions.resolve(versions.load_versions(), "nvidia.drivr")
