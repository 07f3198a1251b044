"""A client pod of the platform bundle's platform-tools image in the data layer's namespace.

One definition for scripts/bench-data-layer and tests/integration/test_platform_data.py: it passes Pod
Security `restricted` (the namespace enforces it), runs on a control plane (a test that powers a worker off
keeps its client) and gets the Redis password from the role's Secret as REDIS_PASSWORD, so it never appears
on a command line outside the pod.
"""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def tools_image() -> str:
    versions = yaml.safe_load((ROOT / "versions.yml").read_text())
    return f"localhost/baremetal-mlops/platform-tools:{versions['platform']['images']['platform_tools']['version']}"


def tools_pod(name: str, namespace: str = "mlops-data", secret: str = "redis-auth") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  securityContext: {{runAsNonRoot: true, runAsUser: 1000, seccompProfile: {{type: RuntimeDefault}}}}
  nodeSelector: {{node-role.kubernetes.io/control-plane: ""}}
  tolerations: [{{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}}]
  containers:
    - name: client
      image: {tools_image()}
      imagePullPolicy: Never
      command: [sleep, infinity]
      env:
        - name: REDIS_PASSWORD
          valueFrom: {{secretKeyRef: {{name: {secret}, key: password}}}}
      securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}
"""
