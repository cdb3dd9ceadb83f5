package drill

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strings"
	"testing"
)

// Every With… option's doc ends with one sentence starting "Default:", as
// CONTRIBUTING.md asks.
func TestOptionDocsEndWithDefault(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "options.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	sentence := regexp.MustCompile(`[.!?]\s+[A-Z]`)
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
	if n != 3 {
		t.Fatalf("found %d options, want the package's 3", n)
	}
}
