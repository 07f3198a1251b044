"""scripts/bundle.d/platform.py: the platform images' plan from versions.yml and the recipes (images.yml),
refused whole before anything is built. The build itself (mmdebstrap from Debian's archive) runs in
scripts/test's background build and is used by tests/integration/test_platform_data.py."""
import copy
import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
VERSIONS = yaml.safe_load((ROOT / "versions.yml").read_text())


def _load():
    spec = importlib.util.spec_from_file_location("platform_script", ROOT / "scripts" / "bundle.d" / "platform.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


platform = _load()


class Refused(Exception):
    pass


def test_the_committed_pins_and_recipes_make_a_plan():
    plan = platform.resolve(VERSIONS, platform.load_recipes(), Refused)
    assert set(plan) == set(VERSIONS["platform"]["images"])
    redis = plan["redis"]
    assert redis["ref"] == f"localhost/baremetal-mlops/redis:{VERSIONS['platform']['images']['redis']['version']}"
    assert redis["recipe"]["user"] == "999:999"


def test_every_problem_is_named_at_once():
    versions = copy.deepcopy(VERSIONS)
    recipes = platform.load_recipes()
    versions["platform"]["images"]["redis"]["packages"]["redis-server"] = "latest please"
    versions["platform"]["images"]["redis"]["version"] = "7"
    versions["platform"]["images"]["orphan"] = {"version": "1.0.0", "debian_suite": "bookworm", "packages": {"x": "1"}}
    recipes["platform_tools"]["user"] = "mlops"
    recipes["platform_tools"]["entrypoint"] = "/bin/bash"
    recipes["stray"] = {"name": "localhost/x/stray", "base": "debian"}
    with pytest.raises(Refused) as exc:
        platform.resolve(versions, recipes, Refused)
    msg = str(exc.value)
    for part in ("platform.images.redis.packages.redis-server: 'latest please' is not an exact Debian version",
                 "platform.images.redis.version '7' is not MAJOR.MINOR.PATCH",
                 "platform.images.orphan is pinned in versions.yml but scripts/bundle.d/images.yml has no recipe",
                 "images.yml platform_tools: user 'mlops' must be numeric uid:gid",
                 "images.yml platform_tools: entrypoint must be a non-empty list",
                 "a recipe 'stray' that versions.yml does not pin"):
        assert part in msg, msg
    assert "nothing was built" in msg


def test_the_key_changes_with_a_pin_and_not_with_order():
    recipes = platform.load_recipes()
    files = [ROOT / "scripts" / "bundle.d" / "platform.py"]
    key = platform.key_of(platform.resolve(VERSIONS, recipes, Refused), files)
    versions = copy.deepcopy(VERSIONS)
    versions["platform"]["images"]["redis"]["packages"]["redis-tools"] = "5:7.0.15-1~deb12u99"
    assert platform.key_of(platform.resolve(versions, recipes, Refused), files) != key
    reordered = dict(reversed(list(recipes.items())))
    assert platform.key_of(platform.resolve(VERSIONS, reordered, Refused), files) == key


def test_users_are_written_with_fixed_ids_before_the_packages_and_the_record_after(tmp_path):
    recipe = platform.load_recipes()["redis"]
    hooks = platform.hooks("redis", recipe, VERSIONS["platform"]["images"]["redis"], tmp_path)
    assert hooks[0].startswith("--essential-hook=") and "redis:x:999:999::/var/lib/redis" in hooks[0]
    assert any(h.startswith("--customize-hook=") and "dpkg-query" in h for h in hooks)
    assert any("redis-server --version" in h for h in hooks)
