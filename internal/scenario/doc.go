// Package scenario holds firebreak's scenario suite: tests that play
// realistic traffic — an hour of steady calls, then an outage, a partial
// failure, a hang, a restart, an overload — through the real packages in
// testing/synctest virtual time, and assert what the emergency plan expects
// ops to be told: which severity, how soon, and nothing after recovery.
//
// The suite runs with go test ./... like every other test. Under the race
// detector the warm period is shortened and the traffic lowered (the
// detectors' behaviour does not depend on either once their guards are met),
// so that the suite stays within CI's time.
package scenario
