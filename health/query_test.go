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
		{"%zz=1", false, nil, "malformed escape in name"},
		{"exclude=%", false, nil, "malformed escape in value"},
		{"exclude=a;b", false, []string{"a;b"}, ""},
		{"x", false, nil, "unknown parameter"},
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
// panics.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "verbose", "verbose=true", "exclude=db", "exclude=a&exclude=b&verbose",
		"exclude=%2F", "exclude=%zz", "verbose=maybe", "x=1", "&&&", "exclude=a;b", "exclude=" + strings.Repeat("a", 3000)} {
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
		vals, uerr := url.ParseQuery(raw)
		if uerr != nil {
			t.Fatalf("parseQuery accepted %q, url.ParseQuery says %v", raw, uerr)
		}
		if !slices.Equal(vals["exclude"], q.exclude) && !(len(vals["exclude"]) == 0 && len(q.exclude) == 0) {
			t.Fatalf("exclude %q, url.ParseQuery says %q", q.exclude, vals["exclude"])
		}
	})
}
