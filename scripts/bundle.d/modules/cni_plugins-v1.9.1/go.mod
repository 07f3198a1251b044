// Wrapper module: builds cni_plugins 1.9.1 from its Go module(s)
// unmodified (scripts/bundle.d/bundle.py). Written by `scripts/bundle wrap`.
module baremetal.mlops/bundle/cni_plugins

go 1.24.2

require (
	github.com/containernetworking/plugins v1.9.1
)
