# The two commands of the README, and a few helpers.
.PHONY: site test rack-down stack-up stack-down lint sanity unit

site:  ## set up this machine, boot the virtual rack, run site.yml on it
	scripts/site

test:  ## every gate and test suite, as CI runs it
	scripts/test

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
