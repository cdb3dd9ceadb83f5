package health

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		verbose bool
		exclude []string
		err     string
	}{
		{"", false, nil, ""},
		{"verbose", true, nil, ""},
		{"verbose=", true, nil, ""},
		{"verbose=1", true, nil, ""},
		{"verbose=false", false, nil, ""},
		{"verbose&verbose=0", false, nil, ""},
		{"exclude=a&exclude=b%2Fc", false, []string{"a", "b/c"}, ""},
		{"&&exclude=a&", false, []string{"a"}, ""},
		{"exclude=a+b", false, []string{"a b"}, ""},
		{"exclude", false, nil, "needs a check name"},
		{"verbose=yes", false, nil, "not a boolean"},
		{"exclude=%", false, nil, "malformed escape in value"},
		{"verbose=%zz", false, nil, "malformed escape in value"},
		{"exclude=a;b", false, []string{"a;b"}, ""},
		// Unknown parameters are ignored, as the Kubernetes API server
		// ignores them: a probe URL with an extra parameter must not fail
		// (and a failing liveness probe restarts the container).
		{"x", false, nil, ""},
		{"full=1&timeout=32s", false, nil, ""},
		{"%zz=1", false, nil, ""},
		{"exclude=a&x=%zz&%zz&verbose", true, []string{"a"}, ""},
		{"verb%6Fse&exclude=%64b", true, []string{"db"}, ""},
	} {
		q, err := parseQuery(tc.raw)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseQuery(%q) error %v, want %q", tc.raw, err, tc.err)
			}
			continue
		}
		if err != nil || q.verbose != tc.verbose || !slices.Equal(q.exclude, tc.exclude) {
			t.Errorf("parseQuery(%q) = %+v, %v; want verbose=%v exclude=%q", tc.raw, q, err, tc.verbose, tc.exclude)
		}
	}
}

// FuzzParseQuery: any query string either parses into something consistent
// with net/url's reading of it, or is rejected with an error; it never
// panics. Parameters other than verbose and exclude are ignored, so
// url.ParseQuery's error about one of them does not matter: only its
// reading of exclude is compared.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "verbose", "verbose=true", "exclude=db", "exclude=a&exclude=b&verbose",
		"exclude=%2F", "exclude=%zz", "verbose=maybe", "x=1", "&&&", "exclude=a;b", "x=%zz&exclude=a", "%zz&verbose", "exclude=" + strings.Repeat("a", 3000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "health: bad query") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if len(raw) > maxQueryLen || len(q.exclude) > maxExcludes {
			t.Fatalf("accepted an oversized query: %d bytes, %d exclusions", len(raw), len(q.exclude))
		}
		for _, e := range q.exclude {
			if e == "" {
				t.Fatal("accepted an empty exclusion")
			}
		}
		if strings.Contains(raw, ";") {
			return // net/url rejects ';', parseQuery treats it as part of a value
		}
		vals, _ := url.ParseQuery(raw) // the valid pairs, whatever the error
		if !slices.Equal(vals["exclude"], q.exclude) && !(len(vals["exclude"]) == 0 && len(q.exclude) == 0) {
			t.Fatalf("exclude %q, url.ParseQuery says %q", q.exclude, vals["exclude"])
		}
	})
}
