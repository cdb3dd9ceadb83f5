package stripe

import (
	"runtime"
	"testing"
)

func TestPInRange(t *testing.T) {
	for range 1000 {
		if p := P(); p < 0 || p >= runtime.GOMAXPROCS(0) {
			t.Fatalf("P() = %d, want in [0, %d)", p, runtime.GOMAXPROCS(0))
		}
	}
}

func BenchmarkP(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = P()
	}
}
