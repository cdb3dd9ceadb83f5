package firebreak_test

import (
	"encoding/json"
	"testing"

	"github.com/firebreak-go/firebreak"
)

func TestMatchers(t *testing.T) {
	labels := map[string]string{"component": "payments-api", "env": "prod", "kind": "breaker_open"}
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`component="payments-api"`, true},
		{`component=payments-api`, true},
		{`component!="payments-api"`, false},
		{`component=~"pay.*"`, true},
		{`component=~"pay"`, false}, // anchored
		{`component!~"cache.*"`, true},
		{`missing=""`, true},
		{`missing!=""`, false},
		{`kind=~"breaker_open|health_failed"`, true},
	} {
		m, err := firebreak.ParseMatcher(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got := m.Matches(labels); got != tc.want {
			t.Errorf("%s matches = %v, want %v", tc.in, got, tc.want)
		}
		b, _ := json.Marshal(m)
		var back firebreak.Matcher
		if err := json.Unmarshal(b, &back); err != nil || back.Matches(labels) != tc.want {
			t.Errorf("%s: JSON round trip %s: %v", tc.in, b, err)
		}
	}
	ms, err := firebreak.ParseMatchers(`{env="prod", component=~"pay.*,x"}`)
	if err != nil || len(ms) != 2 || ms[1].Value != "pay.*,x" {
		t.Fatalf("ParseMatchers: %v %v", ms, err)
	}
	for _, bad := range []string{`=x`, `comp`, `1x="a"`, `x=~"("`, `x="unterminated`} {
		if _, err := firebreak.ParseMatcher(bad); err == nil {
			t.Errorf("ParseMatcher(%q) accepted", bad)
		}
	}
	var m firebreak.Matcher
	if err := json.Unmarshal([]byte(`{"name":"x","op":"~=","value":"y"}`), &m); err == nil {
		t.Error("unknown op accepted")
	}
}
