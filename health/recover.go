package health

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// panicText renders a panic value on one bounded line; fmt recovers a panic
// in the value's own Error or String method.
func panicText(v any) string { return oneLine(fmt.Sprint(v)) }

// safeCheck runs the check and returns its error and that error's text,
// computed here, once, inside the recovery: a panic in Check or in the
// error's Error method becomes a [PanicError] instead of killing the
// goroutine, and nobody calls the user's Error method again.
func safeCheck(ctx context.Context, name string, c Checker) (text string, err error) {
	defer func() {
		if p := recover(); p != nil {
			pe := newPanicError(name, p, debug.Stack())
			err, text = pe, pe.text
		}
	}()
	err = c.Check(ctx)
	if err != nil {
		text = err.Error()
	}
	return text, err
}

// callback names a kind of user code run on the registry's background
// goroutines; a panic in one is recovered, counted, and logged once per kind.
type callback uint8

const (
	cbReporter callback = iota // the Reporter, on the dispatcher
	cbLogger                   // the logger's handler, on the dispatcher
	cbMeter                    // the MeterProvider's instruments, on the runner
	cbRunner                   // anything else on a check's runner (a backstop)
	callbackKinds
)

var callbackNames = [callbackKinds]string{"reporter", "logger", "meter", "runner"}

// guard runs f, recovering a panic: it counts it and logs the first of its
// kind (with the stack). It returns whether f panicked. A panic while
// logging a logger's panic is swallowed: that logger cannot say anything.
func (r *Registry) guard(kind callback, f func()) (panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			panicked = true
			r.recovered.Add(1)
			if r.panicLogged[kind].Swap(true) {
				return
			}
			stack := debug.Stack()
			defer func() { _ = recover() }()
			r.logger().Error("health: recovered a panic in a background goroutine; further panics of this kind are counted, not logged",
				"callback", callbackNames[kind], "panic", panicText(p), "stack", string(stack))
		}
	}()
	f()
	return false
}

// goid returns the current goroutine's id, read from the first line of its
// stack trace ("goroutine 42 [running]:"). It is used only to tell whether
// Close is called from one of the registry's own goroutines (a check, the
// Reporter, the logger), which must not wait for itself.
func goid() uint64 {
	var buf [64]byte
	s, ok := strings.CutPrefix(string(buf[:runtime.Stack(buf[:], false)]), "goroutine ")
	if !ok {
		return 0
	}
	var id uint64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		id = id*10 + uint64(s[i]-'0')
	}
	return id
}
