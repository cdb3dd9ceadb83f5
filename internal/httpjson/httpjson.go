// Package httpjson writes the JSON answers of firebreak's HTTP APIs (the ops
// API, the drill API, the health inspections), written once so that every
// API answers alike.
package httpjson

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// Write encodes v before it writes anything, so that a value that cannot be
// encoded is a 500 with a JSON error, never a 200 with a broken body.
func Write(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		code = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error": "the response could not be encoded"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// Error answers {"error": msg} with code.
func Error(w http.ResponseWriter, code int, msg string) {
	Write(w, code, map[string]string{"error": msg})
}
