package firebreak

import (
	"slices"
	"sync"
)

// Recorder is a Reporter that keeps every signal, for tests that assert on
// what a policy reported. The zero value is ready to use; it is safe for
// concurrent use.
type Recorder struct {
	mu      sync.Mutex // guards signals
	signals []Signal
}

var _ Reporter = (*Recorder)(nil)

// Report records s.
func (r *Recorder) Report(s Signal) {
	r.mu.Lock()
	r.signals = append(r.signals, s)
	r.mu.Unlock()
}

// Signals returns a copy of the signals recorded so far, oldest first.
func (r *Recorder) Signals() []Signal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.signals)
}

// Of returns the recorded signals of one kind, oldest first.
func (r *Recorder) Of(kind Kind) []Signal {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Signal
	for _, s := range r.signals {
		if s.Kind == kind {
			out = append(out, s)
		}
	}
	return out
}

// Last returns the most recent signal of the given kind and whether there was
// one.
func (r *Recorder) Last(kind Kind) (Signal, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.signals) - 1; i >= 0; i-- {
		if r.signals[i].Kind == kind {
			return r.signals[i], true
		}
	}
	return Signal{}, false
}

// Len returns how many signals were recorded.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.signals)
}

// Reset forgets every recorded signal.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.signals = nil
	r.mu.Unlock()
}
