// Wrapper module: builds coredns 1.13.1 from its Go module(s)
// unmodified (scripts/bundle.d/bundle.py). Written by `scripts/bundle wrap`.
module baremetal.mlops/bundle/coredns

go 1.24.0

require (
	github.com/coredns/coredns v1.13.1
)
