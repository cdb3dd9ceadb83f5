package fbgrpc_test

import (
	"fmt"

	"google.golang.org/grpc/codes"

	"github.com/firebreak-go/firebreak/fbgrpc"
)

// What each status code means to a client's pipeline.
func ExampleClassify() {
	for _, c := range []codes.Code{codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Internal, codes.Canceled, codes.NotFound} {
		fmt.Printf("%-18s %v\n", c, fbgrpc.Classify(c))
	}
	// Output:
	// Unavailable        retryable
	// ResourceExhausted  retryable
	// DeadlineExceeded   failure
	// Internal           failure
	// Canceled           caller
	// NotFound           caller
}
