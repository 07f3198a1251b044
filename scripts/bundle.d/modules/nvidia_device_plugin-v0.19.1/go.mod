// Wrapper module: builds nvidia_device_plugin 0.19.1 from its Go module(s)
// unmodified (scripts/bundle.d/bundle.py). Written by `scripts/bundle wrap`.
module baremetal.mlops/bundle/nvidia_device_plugin

go 1.25.0

require (
	github.com/NVIDIA/k8s-device-plugin v0.19.1
)
