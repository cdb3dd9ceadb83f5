// Package doccheck holds the documentation checks every package's tests run
// the same way, so the convention in CONTRIBUTING.md is checked once.
package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strings"
	"testing"
)

var sentence = regexp.MustCompile(`[.!?]\s+[A-Z]`)

// OptionDefaults checks that the doc of every With… function in file ends
// with one sentence starting "Default:", and returns how many it checked.
func OptionDefaults(t *testing.T, file string) int {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || !strings.HasPrefix(fn.Name.Name, "With") {
			continue
		}
		n++
		doc := strings.Join(strings.Fields(fn.Doc.Text()), " ")
		i := strings.LastIndex(doc, "Default:")
		if i < 0 {
			t.Errorf("%s: doc has no Default: sentence", fn.Name.Name)
			continue
		}
		if rest := doc[i:]; sentence.MatchString(rest) {
			t.Errorf("%s: doc goes on after its Default: sentence: %q", fn.Name.Name, rest)
		}
	}
	return n
}
