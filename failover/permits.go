package failover

import (
	"runtime"
	"sync/atomic"

	"github.com/firebreak-go/firebreak/internal/stripe"
)

// keptPermits lets a finished call leave its permit on its processor's
// slot for the next call there, so that while a concurrency limit is far
// off a call admitted and released on one processor touches only that
// processor's cache line, not the count in flight that every processor
// shares. A kept permit stays in the owner's count in flight, so the limit
// is never exceeded; a call that would be refused or queued takes the kept
// permits back first ([keptPermits.reclaim]).
type keptPermits struct {
	slots [permitSlots]struct {
		held atomic.Int32 // 1: a permit is kept here
		_    [124]byte    // two cache lines each, against the adjacent-line prefetch
	}
	moving atomic.Int64 // reclaims under way: see [keptPermits.settle]
}

// permitSlots is how many processors may keep a permit at once.
const permitSlots = 8

// keepers returns how many slots the processors can use, at most
// permitSlots: how far the kept permits can make a count in flight run
// ahead of the calls.
func keepers() int64 { return int64(min(runtime.GOMAXPROCS(0), permitSlots)) }

// newKeptPermits returns slots in an allocation of their own (1 KB, a size
// class whose objects start on a cache line), so that no other field
// shares their cache lines.
func newKeptPermits() *keptPermits { return new(keptPermits) }

// slot returns the index of the caller's processor's slot.
func (k *keptPermits) slot() int { return stripe.P() % permitSlots }

// take takes the permit kept on slot i (the caller's: [keptPermits.slot]),
// if there is one.
func (k *keptPermits) take(i int) bool {
	s := &k.slots[i].held
	return s.Load() == 1 && s.CompareAndSwap(1, 0)
}

// keep keeps a permit on slot i (the caller's), if it is free.
func (k *keptPermits) keep(i int) bool { return k.slots[i].held.CompareAndSwap(0, 1) }

// unkeep takes back the permit kept on slot i, if it is still there.
func (k *keptPermits) unkeep(i int) bool { return k.slots[i].held.CompareAndSwap(1, 0) }

// reclaim takes every kept permit back and frees it from inflight, the
// owner's count in flight; it returns how many it took.
func (k *keptPermits) reclaim(inflight *atomic.Int64) int64 {
	k.moving.Add(1)
	var n int64
	for i := range k.slots {
		if s := &k.slots[i].held; s.Load() == 1 && s.CompareAndSwap(1, 0) {
			n++
		}
	}
	if n > 0 {
		inflight.Add(-n)
	}
	k.moving.Add(-1)
	return n
}

// settle returns once no reclaim is under way. A caller whose reclaim
// found the slots empty because another call's reclaim had just taken
// their permits reads the count in flight after settle: by then those
// permits are freed from it, and the caller is not refused or queued for a
// count that held them for a moment. The wait is another call's few
// instructions, yielding should that call be descheduled in the middle;
// under a storm of refusals, where reclaims overlap without end, it gives
// up after maxSettle yields and the count is read as it is.
func (k *keptPermits) settle() { settle(&k.moving) }

// maxSettle bounds the yields of one settle.
const maxSettle = 64

func settle(moving *atomic.Int64) {
	for i := 0; moving.Load() > 0 && i < maxSettle; i++ {
		runtime.Gosched()
	}
}

// count returns how many permits are kept.
func (k *keptPermits) count() int64 {
	var n int64
	for i := range k.slots {
		n += int64(k.slots[i].held.Load())
	}
	return n
}
