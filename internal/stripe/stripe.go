// Package stripe tells a hot path which processor (P) it runs on, so that
// striped counters are added to without sharing a cache line between cores
// and without sync.Pool.
package stripe

import (
	_ "unsafe" // go:linkname
)

// runtime.procPin and procUnpin are linknamed by widely used packages, and
// the runtime keeps their signatures for them (go.dev/issue/67401).

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// P returns the id of the P the caller runs on, in [0, GOMAXPROCS). The
// goroutine may move to another P right after: use it to choose a stripe,
// never for correctness.
func P() int {
	p := procPin()
	procUnpin()
	return p
}
