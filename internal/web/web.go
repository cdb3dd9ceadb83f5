// Package web holds the templates, style sheets and the one small script of
// firebreak's pages (the public status page, the feedback form and the ops
// console), embedded in the binary so a service serves them with no build
// step and no asset from outside. The script is written here, not fetched:
// it has no dependencies.
package web

import (
	"embed"
	"html/template"
	"io/fs"
)

//go:embed templates/*.html static/*
var files embed.FS

// Static holds the style sheets and the console's script, by file name.
var Static, _ = fs.Sub(files, "static")

// Templates parses the named page template with the shared layout and the
// given functions. It panics only if the embedded files are broken, which every
// test of the root package's pages would show.
func Templates(funcs template.FuncMap, names ...string) *template.Template {
	t := template.New("layout.html").Funcs(funcs)
	patterns := []string{"templates/layout.html"}
	for _, n := range names {
		patterns = append(patterns, "templates/"+n)
	}
	return template.Must(t.ParseFS(files, patterns...))
}
