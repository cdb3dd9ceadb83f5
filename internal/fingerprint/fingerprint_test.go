package fingerprint

import (
	"fmt"
	"testing"
)

func TestAlertmanagerVector(t *testing.T) {
	m := map[string]string{
		"alertname": "ErrorBudgetBurn", "env": "prod", "service": "checkout",
		"severity": "critical", "slo": "availability", "window": "1h/5m",
	}
	if got := fmt.Sprintf("%016x", Map(m)); got != "d1a6536046f93e38" {
		t.Fatalf("fingerprint = %s, want d1a6536046f93e38", got)
	}
	// Order of input must not matter.
	l := []Label{{"window", "1h/5m"}, {"slo", "availability"}, {"severity", "critical"}, {"service", "checkout"}, {"env", "prod"}, {"alertname", "ErrorBudgetBurn"}}
	if got := fmt.Sprintf("%016x", Sum(l)); got != "d1a6536046f93e38" {
		t.Fatalf("Sum = %s", got)
	}
}

func TestEmptyValueIsAbsent(t *testing.T) {
	a := Map(map[string]string{"a": "1", "b": ""})
	b := Map(map[string]string{"a": "1"})
	if a != b {
		t.Fatal("empty label changed the fingerprint")
	}
	if Map(map[string]string{"a": "1"}) == Map(map[string]string{"a": "2"}) {
		t.Fatal("different values gave the same fingerprint")
	}
}

func TestString(t *testing.T) {
	got := String(map[string]string{"service": "checkout", "env": `p"rod`})
	if want := `{env="p\"rod", service="checkout"}`; got != want {
		t.Fatalf("String = %s, want %s", got, want)
	}
}

func TestSumDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		var buf [4]Label
		l := buf[:0]
		l = append(l, Label{"b", "2"}, Label{"a", "1"})
		Sum(l)
	})
	if allocs != 0 {
		t.Fatalf("Sum allocated %v times", allocs)
	}
}
