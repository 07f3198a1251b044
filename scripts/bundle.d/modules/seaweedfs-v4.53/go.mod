// Wrapper module: builds SeaweedFS 4.53 (the weed binary of the platform
// bundle's seaweedfs image, scripts/bundle.d/platform.py) from its Go module,
// unmodified, at the commit the proxy serves as a pseudo-version (no release
// tag is listed). It repeats SeaweedFS's own replace line.
module baremetal.mlops/bundle/seaweedfs

go 1.26.6

require (
	github.com/seaweedfs/seaweedfs v0.0.0-20261109003541-7506e5f91cd6
)

replace (
	github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
)
