// Wrapper module: builds runc 1.4.3 from its Go module(s)
// unmodified (scripts/bundle.d/bundle.py). Written by `scripts/bundle wrap`.
module baremetal.mlops/bundle/runc

go 1.24.0

require (
	github.com/opencontainers/runc v1.4.3
)
