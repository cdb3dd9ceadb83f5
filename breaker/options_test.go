package breaker

import (
	"testing"

	"github.com/firebreak-go/firebreak/internal/doccheck"
)

// Every With… option's doc ends with one sentence starting "Default:", as
// CONTRIBUTING.md asks.
func TestOptionDocsEndWithDefault(t *testing.T) {
	if n := doccheck.OptionDefaults(t, "options.go"); n < 10 {
		t.Fatalf("found %d options, want the package's 11", n)
	}
}
