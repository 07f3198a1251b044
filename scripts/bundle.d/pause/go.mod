module baremetal.mlops/bundle/pause

go 1.25.0
