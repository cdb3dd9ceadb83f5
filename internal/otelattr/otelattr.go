// Package otelattr declares, once, the OpenTelemetry attribute keys every
// firebreak package puts on its spans and metrics. The tracing package
// re-exports the ones users filter on (tracing.AttrComponent and others).
package otelattr

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/firebreak-go/firebreak"
)

// Identity of the component a span or metric belongs to.
const (
	Component  = attribute.Key("firebreak.component")
	Dependency = attribute.Key("firebreak.dependency")
	Tier       = attribute.Key("firebreak.tier")
)

// Of returns the identity attributes of c: component, dependency (when
// there is one) and tier.
func Of(c firebreak.Component) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 3)
	attrs = append(attrs, Component.String(c.Name))
	if c.Dependency != "" {
		attrs = append(attrs, Dependency.String(c.Dependency))
	}
	return append(attrs, Tier.String(c.Tier.String()))
}
