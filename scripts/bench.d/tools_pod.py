"""A client pod of the platform bundle's platform-tools image in the data layer's namespace.

One definition for scripts/bench-data-layer and tests/integration/test_platform_data.py: it passes Pod
Security `restricted` (the namespace enforces it), runs on a control plane (a test that powers a worker off
keeps its client; `node` pins it to one) and gets the Redis password from the role's Secret as REDIS_PASSWORD,
the object store's S3 keys as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, the PostgreSQL owners' passwords
as PG_MLFLOW_PASSWORD / PG_FEAST_PASSWORD and MLflow's admin as MLFLOW_TRACKING_USERNAME / _PASSWORD (each
optional: the pod starts without them), so they never appear on a command line outside the pod. PG_POOLER and
PG_RW name the Pooler's and the primary's Services, MLFLOW_TRACKING_URI the MLflow Service. `image` runs
another image of the bundle with the same environment (mlflow_image(): the MLflow client).
"""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def tools_image() -> str:
    versions = yaml.safe_load((ROOT / "versions.yml").read_text())
    return f"localhost/baremetal-mlops/platform-tools:{versions['platform']['images']['platform_tools']['version']}"


def mlflow_image() -> str:
    versions = yaml.safe_load((ROOT / "versions.yml").read_text())
    return f"localhost/baremetal-mlops/mlflow:{versions['platform']['images']['mlflow']['version']}"


def tools_pod(name: str, namespace: str = "mlops-data", secret: str = "redis-auth", s3_secret: str = "seaweedfs-s3",
              pg_cluster: str = "mlops-pg", node: str | None = None, image: str | None = None) -> str:
    placement = f"nodeName: {node}" if node else 'nodeSelector: {node-role.kubernetes.io/control-plane: ""}'
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  securityContext: {{runAsNonRoot: true, runAsUser: 1000, seccompProfile: {{type: RuntimeDefault}}}}
  {placement}
  tolerations: [{{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}}]
  containers:
    - name: client
      image: {image or tools_image()}
      imagePullPolicy: Never
      command: [sleep, infinity]
      env:
        - name: REDIS_PASSWORD
          valueFrom: {{secretKeyRef: {{name: {secret}, key: password, optional: true}}}}
        - name: AWS_ACCESS_KEY_ID
          valueFrom: {{secretKeyRef: {{name: {s3_secret}, key: access-key, optional: true}}}}
        - name: AWS_SECRET_ACCESS_KEY
          valueFrom: {{secretKeyRef: {{name: {s3_secret}, key: secret-key, optional: true}}}}
        # roles/object_store names the S3 Service as it names the Secret: <object_store_name>-s3.
        - {{name: S3_ENDPOINT, value: "http://{s3_secret}:8333"}}
        - name: PG_MLFLOW_PASSWORD
          valueFrom: {{secretKeyRef: {{name: {pg_cluster}-mlflow, key: password, optional: true}}}}
        - name: PG_FEAST_PASSWORD
          valueFrom: {{secretKeyRef: {{name: {pg_cluster}-feast, key: password, optional: true}}}}
        - {{name: PG_POOLER, value: {pg_cluster}-pooler}}
        - {{name: PG_RW, value: {pg_cluster}-rw}}
        # MLflow (roles/mlflow) as its admin, inside the cluster.
        - {{name: MLFLOW_TRACKING_URI, value: "http://mlflow:5000"}}
        - name: MLFLOW_TRACKING_USERNAME
          valueFrom: {{secretKeyRef: {{name: mlflow-auth, key: admin-username, optional: true}}}}
        - name: MLFLOW_TRACKING_PASSWORD
          valueFrom: {{secretKeyRef: {{name: mlflow-auth, key: admin-password, optional: true}}}}
        - {{name: HOME, value: /tmp}}
        - {{name: USER, value: {name}}}
        - {{name: AWS_METADATA_SERVICE_TIMEOUT, value: "1"}}
        - {{name: AWS_EC2_METADATA_DISABLED, value: "true"}}
      securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}
"""
