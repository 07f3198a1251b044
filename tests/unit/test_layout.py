"""The collection resolves from collections/ and its dependencies from the venv."""
import importlib


def test_collection_package_resolves_to_this_checkout():
    mod = importlib.import_module("ansible_collections.baremetal.mlops.plugins.module_utils")
    assert "/collections/ansible_collections/baremetal/mlops/" in mod.__file__


def test_dependency_collections_come_from_the_pinned_ansible_package():
    for name in ("kubernetes.core", "community.general", "ansible.posix", "amazon.aws"):
        ns, coll = name.split(".")
        mod = importlib.import_module(f"ansible_collections.{ns}.{coll}")
        assert "site-packages" in (mod.__path__[0] if hasattr(mod, "__path__") else mod.__file__), name
