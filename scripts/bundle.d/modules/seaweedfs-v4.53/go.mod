// Wrapper module: builds seaweedfs 4.44 from its Go module(s)
// unmodified (scripts/bundle.d/bundle.py). Written by `scripts/bundle wrap`.
module baremetal.mlops/bundle/seaweedfs

go 1.26.6

require (
	github.com/seaweedfs/seaweedfs v0.0.0-20261109003541-7506e5f91cd6
)

replace (
	github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
)
