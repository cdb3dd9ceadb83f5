package failover

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/firebreak-go/firebreak/internal/race"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wantAllocs fails t if f allocates more than want times per run. Like
// log/slog's tests it skips under the race detector, which allocates.
func wantAllocs(t *testing.T, want float64, f func()) {
	t.Helper()
	if race.Enabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	if got := testing.AllocsPerRun(200, f); got > want {
		t.Errorf("allocations per run = %v, want at most %v", got, want)
	}
}
