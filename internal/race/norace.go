//go:build !race

// Package race reports whether the race detector is on, so allocation tests
// can skip themselves under it (the detector allocates).
package race

// Enabled is true when the binary was built with -race.
const Enabled = false
