"""roles/object_store's checks before anything changes and its manifests as rendered, run by ansible-playbook for
real on localhost; nothing here talks to a cluster (the role runs on the real cluster in
tests/integration/test_platform_data.py)."""
import json

import yaml

from ansible_collections.baremetal.mlops.tests.unit.ansible_cli import ROOT, role_tasks_play, run_local_play


def validate(tmp_path, **variables):
    extra = ["-e", json.dumps(variables)] if variables else []
    return run_local_play(tmp_path, role_tasks_play("object_store"), *extra)


def test_defaults_pass(tmp_path):
    res = validate(tmp_path)
    assert res.returncode == 0, res.stdout[-3000:]


def test_every_problem_is_reported_at_once_naming_the_variable_and_the_fix(tmp_path):
    res = validate(tmp_path, object_store_kind="ceph", object_store_volume_servers=1, object_store_masters=2,
                   object_store_buckets=["mlflow", "Models_2026", "ab", "mlflow"], object_store_volume_size="lots")
    out = " ".join(res.stdout.split())
    assert res.returncode != 0
    assert "cp1: object_store:" in out  # names the host and the component
    assert "object_store_kind ceph is not an object store this collection deploys (seaweedfs, minio). Fix: seaweedfs" in out
    assert ("bucket Models_2026 in object_store_buckets is not a valid S3 bucket name: it may hold only lowercase "
            "letters, digits, dots and hyphens") in out
    assert "bucket ab in object_store_buckets is not a valid S3 bucket name: it has 2 characters, not 3 to 63" in out
    assert "object_store_buckets names a bucket twice" in out
    assert "object_store_volume_servers is 1 with object_store_ha true" in out and "Fix:" in out
    assert "object_store_masters 2 must be odd and at least 3" in out
    assert "object_store_volume_size lots is not a quantity" in out


def test_buckets_that_could_not_grow_their_volumes_are_refused(tmp_path):
    res = validate(tmp_path, object_store_volume_size="2Gi", object_store_buckets=["mlflow", "feast", "backups"])
    out = " ".join(res.stdout.split())
    assert res.returncode != 0
    assert ("the buckets need 12 volume slots (3 buckets x object_store_volume_growth 2 x 2 copies) but 2 volume "
            "servers of object_store_volume_size 2Gi hold 4 volumes of object_store_volume_size_limit_mb 1024") in out


def test_a_volume_size_that_holds_no_volume_is_refused(tmp_path):
    res = validate(tmp_path, object_store_volume_size="512Mi")
    out = " ".join(res.stdout.split())
    assert res.returncode != 0
    assert "object_store_volume_size 512Mi holds no volume of object_store_volume_size_limit_mb 1024" in out


def test_minio_is_refused_as_not_built_yet(tmp_path):
    res = validate(tmp_path, object_store_kind="minio")
    assert res.returncode != 0 and "object_store_kind minio is not built yet" in " ".join(res.stdout.split())


def test_without_ha_one_of_each_is_allowed(tmp_path):
    res = validate(tmp_path, object_store_ha=False, object_store_masters=1, object_store_volume_servers=1,
                   object_store_filers=1)
    assert res.returncode == 0, res.stdout[-3000:]


def render(tmp_path, **variables):
    """The role's manifests as ansible-core renders them (role defaults and vars, the collection's filters)."""
    out = tmp_path / "rendered"
    out.mkdir(parents=True)
    play = role_tasks_play("object_store", then="""
            - name: Render
              ansible.builtin.copy:
                content: "{{ lookup('ansible.builtin.template', '%s/' ~ item) }}"
                dest: "%s/{{ item }}"
                mode: "0600"
              loop: [seaweedfs.yaml.j2, buckets-job.yaml.j2]
        """ % (ROOT / "roles" / "object_store" / "templates", out))
    extra = ["-e", json.dumps(variables)] if variables else []
    res = run_local_play(tmp_path, play, *extra)
    assert res.returncode == 0, res.stdout[-3000:]
    docs = {}
    for name in ("seaweedfs.yaml.j2", "buckets-job.yaml.j2"):
        for doc in yaml.safe_load_all((out / name).read_text()):
            if doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def container(doc):
    return doc["spec"]["template"]["spec"]["containers"][0]


def test_the_manifests_render_an_ha_store_with_no_secret_in_them(tmp_path):
    docs = render(tmp_path)
    peers = ",".join(f"seaweedfs-master-{i}.seaweedfs-master-headless.mlops-data.svc.cluster.local:9333" for i in range(3))
    master = docs[("StatefulSet", "seaweedfs-master")]
    volume = docs[("StatefulSet", "seaweedfs-volume")]
    filer = docs[("StatefulSet", "seaweedfs-filer")]
    assert [d["spec"]["replicas"] for d in (master, volume, filer)] == [3, 2, 2]
    args = {d["metadata"]["name"]: container(d)["args"] for d in (master, volume, filer)}
    assert f"-peers={peers}" in args["seaweedfs-master"] and "-telemetry=false" in args["seaweedfs-master"]
    assert "-defaultReplication=001" in args["seaweedfs-master"]
    assert f"-mserver={peers}" in args["seaweedfs-volume"]
    # Slots from the claim (8Gi / 1024 MB), never from the free space of the disk under it (-max=0); small growth.
    assert "-max=8" in args["seaweedfs-volume"] and "-max=0" not in args["seaweedfs-volume"]
    assert {"name": "WEED_MASTER_VOLUME_GROWTH_COPY_2", "value": "2"} in container(master)["env"]
    assert f"-master={peers}" in args["seaweedfs-filer"] and "-defaultReplicaPlacement=001" in args["seaweedfs-filer"]
    assert "-s3.config=/etc/seaweedfs/s3.json" in args["seaweedfs-filer"] and "-s3.iam=false" in args["seaweedfs-filer"]
    for d in (master, volume, filer):
        spec = d["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] and container(d)["securityContext"]["readOnlyRootFilesystem"]
        anti = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
        assert anti["topologyKey"] == "kubernetes.io/hostname"
        assert {"name": "GOMEMLIMIT", "value": "921MiB"} in container(d)["env"]
        assert ("PodDisruptionBudget", d["metadata"]["name"]) in docs
    # Only the masters may run on control planes; the volume servers and filers keep their data on local volumes.
    assert "tolerations" in master["spec"]["template"]["spec"] and "tolerations" not in volume["spec"]["template"]["spec"]
    assert "volumeClaimTemplates" not in master["spec"]
    assert volume["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "local-data"
    assert docs[("Service", "seaweedfs-s3")]["spec"]["type"] == "ClusterIP"
    assert {s["spec"].get("type", "ClusterIP") for (kind, _name), s in docs.items() if kind == "Service"} == {"ClusterIP"}
    job = next(d for (kind, _name), d in docs.items() if kind == "Job")
    env = {e["name"]: e for e in container(job)["env"]}
    assert json.loads(env["BUCKETS"]["value"]) == ["mlflow", "feast", "backups"]
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "seaweedfs-s3", "key": "secret-key"}
    assert env["S3_ENDPOINT"]["value"] == "http://seaweedfs-s3.mlops-data.svc.cluster.local:8333"


def test_the_bucket_job_is_named_by_its_bucket_list(tmp_path):
    one = next(n for k, n in render(tmp_path / "a").keys() if k == "Job")
    two = next(n for k, n in render(tmp_path / "b", object_store_buckets=["mlflow", "feast"]).keys() if k == "Job")
    assert one.startswith("seaweedfs-buckets-") and two.startswith("seaweedfs-buckets-") and one != two
    assert one == next(n for k, n in render(tmp_path / "c").keys() if k == "Job")


def test_without_ha_objects_are_kept_once(tmp_path):
    docs = render(tmp_path, object_store_ha=False, object_store_masters=1, object_store_volume_servers=1,
                  object_store_filers=1)
    assert "-defaultReplication=000" in container(docs[("StatefulSet", "seaweedfs-master")])["args"]
    assert "-peers=seaweedfs-master-0.seaweedfs-master-headless.mlops-data.svc.cluster.local:9333" in \
        container(docs[("StatefulSet", "seaweedfs-master")])["args"]
