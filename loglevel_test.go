package firebreak

import (
	"log/slog"
	"testing"
)

// The quick start's log is readable only if pages stand out: routine updates
// are DEBUG, people's responses INFO, pages by severity.
func TestSlogNotifierLevels(t *testing.T) {
	for _, tc := range []struct {
		ev   Event
		sev  Severity
		want slog.Level
	}{
		{EventDetected, Fatal, slog.LevelError},
		{EventDetected, Severe, slog.LevelError},
		{EventDetected, General, slog.LevelWarn},
		{EventDetected, None, slog.LevelInfo},
		{EventBreached, Fatal, slog.LevelError},
		{EventRenotify, General, slog.LevelWarn},
		{EventEscalationStep, Severe, slog.LevelError},
		{EventAcknowledged, Fatal, slog.LevelInfo},
		{EventMitigated, Fatal, slog.LevelInfo},
		{EventResolved, Fatal, slog.LevelInfo},
		{EventClosed, Severe, slog.LevelInfo},
		{EventHandedOff, Severe, slog.LevelInfo},
		{EventSignal, Fatal, slog.LevelDebug},
		{EventFinding, Fatal, slog.LevelDebug},
		{EventEvidence, Fatal, slog.LevelDebug},
	} {
		if got := logLevel(tc.ev, tc.sev); got != tc.want {
			t.Errorf("%s of a %s incident logs at %v; want %v", tc.ev, tc.sev, got, tc.want)
		}
	}
}
