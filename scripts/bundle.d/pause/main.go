// pause: the process that holds a pod sandbox's namespaces.
//
// baremetal.mlops's own implementation, written for the bundle that
// scripts/bundle builds from source on machines without a registry. It does
// what a pod's pause container must do: stay alive until asked to stop, exit
// 0 on SIGINT or SIGTERM, and reap every child that is re-parented to it
// (it is PID 1 of the pod's PID namespace when the namespace is shared).
// Upstream's pause (kubernetes build/pause, C) is not a Go module, so it
// cannot be built here; this one answers `-v` with the version it is tagged as.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at link time: -X main.version=3.10.1
var version = "unset"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Printf("pause.go %s (baremetal.mlops, built from source)\n", version)
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		switch sig {
		case syscall.SIGINT, syscall.SIGTERM:
			fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", sig)
			os.Exit(0)
		case syscall.SIGCHLD:
			for {
				var status syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}
