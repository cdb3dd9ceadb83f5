package firebreak

import "time"

// clockBase is the origin of [Nanotime]'s readings.
var clockBase = time.Now()

// Nanotime returns a monotonic clock reading in nanoseconds, for policies
// that measure time on a call's hot path. It reads one clock where
// time.Now reads two (the wall clock and the monotonic one), and inside a
// [testing/synctest] bubble it follows the bubble's virtual time. Readings
// are comparable with each other only; [TimeOf] turns one into a
// time.Time. It never returns 0, the value of "no reading" in [Next.Now].
func Nanotime() int64 {
	n := int64(time.Since(clockBase))
	if n == 0 {
		n = 1
	}
	return n
}

// TimeOf returns the time of a [Nanotime] reading, with a monotonic clock
// reading, so that differences between such times are those of the readings.
func TimeOf(reading int64) time.Time { return clockBase.Add(time.Duration(reading)) }
