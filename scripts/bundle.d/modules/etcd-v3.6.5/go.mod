// Wrapper module: builds etcd 3.6.5 from its Go module(s)
// unmodified (scripts/bundle.d/bundle.py). Written by `scripts/bundle wrap`.
module baremetal.mlops/bundle/etcd

go 1.24

require (
	go.etcd.io/etcd/server/v3 v3.6.5
	go.etcd.io/etcd/etcdctl/v3 v3.6.5
	go.etcd.io/etcd/etcdutl/v3 v3.6.5
)
