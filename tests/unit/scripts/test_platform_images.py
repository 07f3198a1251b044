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


def refusal(versions, recipes):
    """resolve()'s one error for these pins and recipes."""
    with pytest.raises(Refused) as exc:
        platform.resolve(versions, recipes, Refused)
    return str(exc.value)


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
                 "platform.images.redis.version '7' is not MAJOR.MINOR[.PATCH]",
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


def test_a_go_image_is_planned_from_its_wrapper_and_its_binary_is_copied_in_before_the_check(tmp_path):
    plan = platform.resolve(VERSIONS, platform.load_recipes(), Refused)
    weed = plan["seaweedfs"]
    pin = VERSIONS["platform"]["images"]["seaweedfs"]
    assert weed["pin"]["packages"] == {}
    assert platform.go_commit(pin["go_version"]) == pin["go_version"][-12:]
    assert platform.go_commit("v1.2.3") == "v1.2.3"
    inputs = platform.go_inputs(plan)
    assert [f"{f.parent.name}/{f.name}" for f in inputs] == [
        "cloudnative-pg-v1.30.0/go.mod", "cloudnative-pg-v1.30.0/go.sum", "seaweedfs-v4.53/go.mod", "seaweedfs-v4.53/go.sum"]
    binaries = [{"path": "/usr/bin/weed", "file": tmp_path / "go-seaweedfs" / "weed"}]
    args = platform.hooks("seaweedfs", weed["recipe"], weed["pin"], tmp_path, binaries)
    copy_in = next(i for i, a in enumerate(args) if a.startswith("--customize-hook=copy-in "))
    check = next(i for i, a in enumerate(args) if "/usr/bin/weed version" in a)
    assert args[copy_in].endswith(f"{tmp_path}/go-seaweedfs/weed /usr/bin") and copy_in < check


def test_a_go_pin_the_wrapper_does_not_require_is_refused_naming_both():
    versions = copy.deepcopy(VERSIONS)
    recipes = platform.load_recipes()
    versions["platform"]["images"]["seaweedfs"]["go_version"] = "v0.0.0-20260101000000-0123456789ab"
    recipes["seaweedfs"]["go"]["binaries"]["usr/bin/weed"] = "x"
    with pytest.raises(Refused) as exc:
        platform.resolve(versions, recipes, Refused)
    msg = str(exc.value)
    assert ("the wrapper seaweedfs-v4.53/go.mod does not require github.com/seaweedfs/seaweedfs "
            "v0.0.0-20260101000000-0123456789ab as versions.yml pins it") in msg, msg
    assert "go binary 'usr/bin/weed' is not an absolute file path" in msg
    recipes = platform.load_recipes()
    recipes["seaweedfs"]["go"]["wrapper"] = "nowhere-v1"
    versions = copy.deepcopy(VERSIONS)
    del versions["platform"]["images"]["seaweedfs"]["go_module"]
    with pytest.raises(Refused) as exc:
        platform.resolve(versions, recipes, Refused)
    assert "go_module and go_version" in str(exc.value)


def test_files_are_written_before_the_packages_links_after_and_env_keeps_a_path(tmp_path):
    recipes = platform.load_recipes()
    pg, pin = recipes["postgresql"], VERSIONS["platform"]["images"]["postgresql"]
    args = platform.hooks("postgresql", pg, pin, tmp_path)
    conf = next(a for a in args if "createcluster.d" in a)
    # An essential hook runs before the packages: postgresql-common then makes no cluster in the image.
    assert conf.startswith("--essential-hook=") and "create_main_cluster = false" in conf
    assert platform.image_env(pg, "PATH=/usr/bin")[0].startswith("PATH=/usr/lib/postgresql/17/bin:")
    assert platform.image_env(recipes["redis"], "PATH=/usr/bin") == ["PATH=/usr/bin"]
    bouncer = platform.hooks("pgbouncer", recipes["pgbouncer"], VERSIONS["platform"]["images"]["pgbouncer"], tmp_path)
    assert "--customize-hook=ln -sfn /usr/sbin/pgbouncer \"$1/usr/bin/pgbouncer\"" in bouncer


def test_the_operator_binary_is_laid_out_as_upstream_and_its_manifest_comes_from_the_module(tmp_path):
    plan = platform.resolve(VERSIONS, platform.load_recipes(), Refused)
    cnpg = plan["cloudnative_pg"]
    binaries = [{"path": "/operator/manager_amd64", "file": tmp_path / "manager_amd64"}]
    args = platform.hooks("cloudnative_pg", cnpg["recipe"], cnpg["pin"], tmp_path, binaries)
    mkdir = args.index('--customize-hook=mkdir -p "$1/operator"')
    link = args.index('--customize-hook=ln -sfn operator/manager_amd64 "$1/manager"')
    assert mkdir < args.index(f"--customize-hook=copy-in {tmp_path}/manager_amd64 /operator") < link
    assert cnpg["recipe"]["go"]["manifests"] == ["releases/cnpg-{version}.yaml"]


def test_bad_env_files_links_and_manifest_paths_are_refused_naming_each():
    recipes = platform.load_recipes()
    recipes["postgresql"]["env"] = ["lowercase=x"]
    recipes["postgresql"]["files"] = {"etc/relative": "x"}
    recipes["pgbouncer"]["links"] = {"/usr/bin/pgbouncer": ""}
    recipes["cloudnative_pg"]["go"]["manifests"] = ["../outside.yaml"]
    msg = refusal(VERSIONS, recipes)
    assert "images.yml postgresql: env item 'lowercase=x' is not NAME=value" in msg
    assert "images.yml postgresql: files path 'etc/relative' is not an absolute path" in msg
    assert "images.yml pgbouncer: links '/usr/bin/pgbouncer' needs a non-empty string" in msg
    assert "images.yml cloudnative_pg: go.manifests item '../outside.yaml' is not a path inside the Go module" in msg


def test_a_python_image_takes_its_lock_and_its_python_from_the_debian_pin_and_compiles_after_the_copy(tmp_path):
    plan = platform.resolve(VERSIONS, platform.load_recipes(), Refused)
    mlflow = plan["mlflow"]
    assert platform.python_version(mlflow["pin"]) == "3.13"
    packages = platform.lock_packages(platform.lock_file(mlflow["recipe"]["python"]))
    assert packages["mlflow"] == mlflow["pin"]["version"] and "psycopg2-binary" in packages and "boto3" in packages
    assert [f.name for f in platform.python_inputs(plan)] == ["feast.txt", "mlflow.txt"]
    args = platform.hooks("mlflow", mlflow["recipe"], mlflow["pin"], tmp_path, python_root=tmp_path / "py-mlflow")
    copy = args.index(f'--customize-hook=cp -a --no-preserve=ownership {tmp_path}/py-mlflow/. "$1/"')
    compile_ = next(i for i, a in enumerate(args) if "compileall" in a)
    check = next(i for i, a in enumerate(args) if "mlflow --version" in a)
    assert copy < compile_ < check
    assert "/usr/local/lib/python3.13/dist-packages" in args[compile_]


def test_the_key_changes_with_the_lock(tmp_path):
    recipes = platform.load_recipes()
    plan = platform.resolve(VERSIONS, recipes, Refused)
    lock = tmp_path / "mlflow.txt"
    lock.write_bytes(platform.lock_file(recipes["mlflow"]["python"]).read_bytes())
    key = platform.key_of(plan, [lock])
    lock.write_text(lock.read_text().replace("boto3==", "boto3==9"))
    assert platform.key_of(plan, [lock]) != key


def test_a_python_recipe_without_a_lock_hashes_or_python3_is_refused_naming_each(tmp_path, monkeypatch):
    monkeypatch.setattr(platform, "LOCKS_DIR", tmp_path)
    (tmp_path / "nohash.txt").write_text("mlflow==3.17.2\n    # via nothing\n")
    recipes = platform.load_recipes()
    versions = copy.deepcopy(VERSIONS)
    recipes["mlflow"]["python"] = {"lock": "missing"}
    versions["platform"]["images"]["mlflow"]["packages"] = {"python3-minimal": "3.13.5-1"}
    recipes["platform_tools"]["python"] = {"lock": "nohash"}
    recipes["redis"]["python"] = "mlflow"
    msg = refusal(versions, recipes)
    assert "images.yml mlflow: the lock scripts/bundle.d/locks/missing.txt does not exist" in msg
    assert "platform.images.mlflow.packages must pin python3" in msg
    assert "images.yml platform_tools: the lock nohash.txt must pin every package with its hashes (mlflow==3.17.2)" in msg
    assert "images.yml redis: python must name its lock" in msg
