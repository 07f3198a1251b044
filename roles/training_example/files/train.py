"""The example training Job (roles/training_example): what the pipelines will orchestrate. It reads a training set
from Feast's offline store (the labels of customer_labels joined point-in-time with the feature view
customer_transactions_1h), trains a small scikit-learn model, logs its parameters, metrics and the model to MLflow
(artifacts through the tracking server's proxy: no S3 keys here), registers a model version and points the alias
TRAIN_ALIAS (challenger) at it. Its last line is a JSON summary.

Environment: TRAIN_EXPERIMENT, TRAIN_MODEL_NAME, TRAIN_ALIAS, TRAIN_DAYS, TRAIN_FEATURE_VIEW, TRAIN_FEATURES (comma
separated), TRAIN_LABEL_TABLE; MLflow's MLFLOW_TRACKING_URI/_USERNAME/_PASSWORD; Feast's feature_store.yaml in the
working directory with its passwords in the environment.
"""

from __future__ import annotations

import json
import os

import mlflow
from feast import FeatureStore
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    view, features = os.environ["TRAIN_FEATURE_VIEW"], os.environ["TRAIN_FEATURES"].split(",")
    days = int(os.environ.get("TRAIN_DAYS", "2"))
    store = FeatureStore(repo_path=".")
    # The entity rows as SQL, run by the offline store itself (PostgreSQL): the labels of the last days.
    entity_sql = (f"SELECT customer_id, event_timestamp, label FROM {os.environ['TRAIN_LABEL_TABLE']} "
                  f"WHERE event_timestamp > now() - interval '{days} days'")
    frame = store.get_historical_features(entity_df=entity_sql,
                                          features=[f"{view}:{name}" for name in features]).to_df()
    frame = frame.dropna(subset=features)
    if len(frame) < 20 or frame["label"].nunique() < 2:
        raise SystemExit(f"training set too small or one-class: {len(frame)} rows, labels "
                         f"{sorted(frame['label'].unique().tolist())}; fill {view}'s source and the labels first")
    x, y = frame[features].astype(float), frame["label"].astype(int)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=7, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500))
    model.fit(x_train, y_train)
    accuracy = accuracy_score(y_test, model.predict(x_test))
    auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])

    name, alias = os.environ["TRAIN_MODEL_NAME"], os.environ.get("TRAIN_ALIAS", "challenger")
    mlflow.set_experiment(os.environ["TRAIN_EXPERIMENT"])
    with mlflow.start_run() as run:
        mlflow.log_params({"model": "StandardScaler+LogisticRegression", "C": 1.0, "feature_view": view,
                           "features": ",".join(features), "days": days, "rows": len(frame)})
        mlflow.log_metrics({"accuracy": accuracy, "roc_auc": auc})
        mlflow.set_tag("feast.project", store.project)
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name,
                                        signature=infer_signature(x_train, model.predict(x_train)),
                                        input_example=x_train.head(3))
    client = MlflowClient()
    version = info.registered_model_version
    client.set_registered_model_alias(name, alias, version)
    print(json.dumps({"run_id": run.info.run_id, "model": name, "version": str(version), "alias": alias,
                      "rows": len(frame), "accuracy": round(accuracy, 4), "roc_auc": round(auc, 4)}))


if __name__ == "__main__":
    main()
