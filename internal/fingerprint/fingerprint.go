// Package fingerprint computes Alertmanager-compatible label-set fingerprints:
// FNV-1a 64 over the labels sorted by name, each name and value followed by
// the byte 0xFF, as prometheus/common's LabelSet.Fingerprint does.
package fingerprint

import (
	"slices"
	"strings"
)

const (
	offset64  = 14695981039346656037
	prime64   = 1099511628211
	separator = 0xFF
)

// Label is one name/value pair.
type Label struct{ Name, Value string }

// Sum returns the fingerprint of labels, which it sorts in place by name.
// Empty values are skipped, as Prometheus treats an empty label as absent.
// It does not allocate.
func Sum(labels []Label) uint64 {
	Sort(labels)
	h := uint64(offset64)
	for _, l := range labels {
		if l.Value == "" {
			continue
		}
		h = add(h, l.Name)
		h = addByte(h, separator)
		h = add(h, l.Value)
		h = addByte(h, separator)
	}
	return h
}

// Sort sorts labels by name in place without allocating (an insertion sort:
// label sets are small).
func Sort(labels []Label) {
	for i := 1; i < len(labels); i++ {
		for j := i; j > 0 && labels[j].Name < labels[j-1].Name; j-- {
			labels[j], labels[j-1] = labels[j-1], labels[j]
		}
	}
}

// Map returns the fingerprint of a label map.
func Map(m map[string]string) uint64 {
	labels := make([]Label, 0, len(m))
	for k, v := range m {
		labels = append(labels, Label{k, v})
	}
	return Sum(labels)
}

// String formats a label map as Alertmanager does: {a="x", b="y"}, sorted.
func String(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(quote(m[k]))
	}
	b.WriteByte('}')
	return b.String()
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func add(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime64
	}
	return h
}

func addByte(h uint64, b byte) uint64 {
	h ^= uint64(b)
	h *= prime64
	return h
}
