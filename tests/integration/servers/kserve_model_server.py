"""A real KServe 0.21 model server for the integration tests and the benchmark.

Serves one scikit-learn model loaded from an MLflow model URI (for example
``models:/fraud/1``) under a name, with KServe's own ModelServer (FastAPI +
uvicorn, V1 and V2 REST protocols), on 127.0.0.1 only. It reports the
registry version it serves in V2 responses (``model_version``), as MLServer
does from its model settings — KServe's sklearn server would not.

    python kserve_model_server.py --port 18080 --name fraud --model-uri models:/fraud/1 --version 1

MLFLOW_TRACKING_URI must point at the tracking server. Started and stopped by
the tests (tests/integration/kserve_helpers.py), never left running.
"""

from __future__ import annotations

import argparse
import mlflow.sklearn
import numpy as np
import uvicorn

import kserve
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

# KServe 0.21 hard-codes host="0.0.0.0" for its REST server (kserve/protocol/
# rest/server.py); a test server must not listen on every interface.
# Force the host for this process's uvicorn servers.


class _LoopbackConfig(uvicorn.Config):
    def __init__(self, *args, **kwargs):
        kwargs["host"] = "127.0.0.1"
        super().__init__(*args, **kwargs)


uvicorn.Config = _LoopbackConfig  # type: ignore[misc]


class MlflowSklearnModel(kserve.Model):
    def __init__(self, name: str, model_uri: str, version: str):
        super().__init__(name)
        self.model_uri = model_uri
        self.version = version
        self.model = None

    def load(self) -> bool:
        self.model = mlflow.sklearn.load_model(self.model_uri)
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None, response_headers=None):
        if isinstance(payload, InferRequest):
            data = payload.inputs[0].as_numpy()
            result = np.asarray(self.model.predict(data))
            datatype = "INT64" if result.dtype.kind in "iu" else "FP64"
            output = InferOutput(name="predict", shape=list(result.shape), datatype=datatype,
                                 data=result.tolist())
            return InferResponse(model_name=self.name, model_version=self.version, response_id=payload.id,
                                 infer_outputs=[output])
        instances = np.asarray(payload["instances"])
        return {"predictions": np.asarray(self.model.predict(instances)).tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--version", required=True)
    args = parser.parse_args()
    model = MlflowSklearnModel(args.name, args.model_uri, args.version)
    model.load()
    kserve.ModelServer(http_port=args.port, enable_grpc=False, workers=1).start([model])


if __name__ == "__main__":
    main()
