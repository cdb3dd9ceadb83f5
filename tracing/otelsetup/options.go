package otelsetup

import (
	"errors"
	"io"
)

// An Option configures [New].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	service, version string
	out              io.Writer
	errs             []error
}

// WithServiceName sets service.name when OTEL_SERVICE_NAME (or service.name
// in OTEL_RESOURCE_ATTRIBUTES) does not. An empty name is an error.
// Default: the executable's name.
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) {
		if name == "" {
			c.errs = append(c.errs, errors.New("otelsetup: WithServiceName: the name is empty"))
			return
		}
		c.service = name
	})
}

// WithServiceVersion sets service.version when OTEL_RESOURCE_ATTRIBUTES does
// not. Default: none.
func WithServiceVersion(v string) Option {
	return optionFunc(func(c *config) { c.version = v })
}

// WithOutput sets where the console exporters write. A nil writer is an
// error. Default: os.Stdout.
func WithOutput(w io.Writer) Option {
	return optionFunc(func(c *config) {
		if w == nil {
			c.errs = append(c.errs, errors.New("otelsetup: WithOutput: the writer is nil"))
			return
		}
		c.out = w
	})
}
