# The two commands of the README, and a few helpers.
.PHONY: site test test-platform-apps rack-down stack-up stack-down lint sanity unit

site:  ## set up this machine, boot the virtual rack, run site.yml on it
	scripts/site

test:  ## every gate and test suite, as CI runs it
	scripts/test

# MLflow, Feast and the training Job on a cluster of their own (not in `make test`: see
# tests/integration/test_platform_data.py, PLATFORM_APPS). Needs the bundles `make test` builds.
test-platform-apps:
	MLOPS_TEST_PLATFORM_APPS=1 .venv/bin/python -m pytest -p no:cacheprovider tests/integration/test_platform_data.py \
	  -k "mlflow or controller or feast or feature or cronjobs or training" --basetemp=/tmp/mlops-test-apps

rack-down:  ## stop every VM of the virtual rack
	scripts/vrack down --all

stack-up:  ## start PostgreSQL, Redis, SeaweedFS S3 and MLflow on loopback
	scripts/stack start

stack-down:
	scripts/stack stop

lint:
	TEST_STAGES="changelog lint syntax" scripts/test

sanity:
	TEST_STAGES="sanity" scripts/test

unit:
	.venv/bin/python -m pytest tests/unit
