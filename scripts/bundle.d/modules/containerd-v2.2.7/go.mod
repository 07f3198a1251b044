// Wrapper module: builds containerd 2.2.7 from its Go module(s)
// unmodified (scripts/bundle.d/bundle.py). Written by `scripts/bundle wrap`.
module baremetal.mlops/bundle/containerd

go 1.25.0

require (
	github.com/containerd/containerd/v2 v2.2.7
)
