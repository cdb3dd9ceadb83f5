package firebreak_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/firebreak-go/firebreak"
)

type rejectErr firebreak.Rejection

func (e rejectErr) Error() string                  { return "rejected " + firebreak.Rejection(e).String() }
func (e rejectErr) Rejection() firebreak.Rejection { return firebreak.Rejection(e) }

func TestRejectionOf(t *testing.T) {
	plain := errors.New("boom")
	for _, tc := range []struct {
		name string
		err  error
		want firebreak.Rejection
	}{
		{"nil", nil, 0},
		{"plain", plain, 0},
		{"direct", rejectErr(firebreak.RejectOverload), firebreak.RejectOverload},
		{"wrapped", fmt.Errorf("call: %w", rejectErr(firebreak.RejectIsolated)), firebreak.RejectIsolated},
		{"joined", errors.Join(plain, rejectErr(firebreak.RejectDisabled)), firebreak.RejectDisabled},
		{"zero is not a rejection", rejectErr(0), 0},
		{"zero then wrapped", fmt.Errorf("%w", errors.Join(rejectErr(0), rejectErr(firebreak.RejectOverload))), firebreak.RejectOverload},
	} {
		if got := firebreak.RejectionOf(tc.err); got != tc.want {
			t.Errorf("%s: RejectionOf = %v, want %v", tc.name, got, tc.want)
		}
		if got := firebreak.IsRejected(tc.err); got != (tc.want != 0) {
			t.Errorf("%s: IsRejected = %v", tc.name, got)
		}
	}
	wrapped := fmt.Errorf("x: %w", rejectErr(firebreak.RejectOverload))
	if n := testing.AllocsPerRun(100, func() { firebreak.RejectionOf(wrapped) }); n != 0 {
		t.Errorf("RejectionOf allocates %v times", n)
	}
}
