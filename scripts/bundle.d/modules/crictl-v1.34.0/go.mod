// Wrapper module: builds crictl 1.34.0 from its Go module(s)
// unmodified (scripts/bundle.d/bundle.py). Written by `scripts/bundle wrap`.
module baremetal.mlops/bundle/crictl

go 1.24.1

require (
	sigs.k8s.io/cri-tools v1.34.0
)
