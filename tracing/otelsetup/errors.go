package otelsetup

import (
	"fmt"

	"github.com/firebreak-go/firebreak"
)

// errStartAfterClose is the error of Start on a closed SDK.
var errStartAfterClose = fmt.Errorf("otelsetup: Start after Close: %w", firebreak.ErrClosed)
