package otelsetup_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/firebreak-go/firebreak"
	"github.com/firebreak-go/firebreak/tracing"
	"github.com/firebreak-go/firebreak/tracing/otelsetup"
)

// Without an OTLP endpoint, spans go to the output one line each; an
// Observer made afterwards records on the installed providers.
func ExampleNew() {
	os.Unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	ctx := context.Background()
	var out bytes.Buffer
	sdk, err := otelsetup.New(otelsetup.WithServiceName("quickstart"), otelsetup.WithOutput(&out))
	if err != nil {
		panic(err)
	}
	if err := sdk.Start(ctx); err != nil {
		panic(err)
	}

	obs, err := tracing.New[int]()
	if err != nil {
		panic(err)
	}
	if err := obs.Bind(firebreak.Component{Name: "checkout", Dependency: "payments"}); err != nil {
		panic(err)
	}
	_, err = obs.Execute(ctx, func(context.Context) (int, error) { return 0, context.Canceled })
	fmt.Println("call:", err)

	if err := sdk.Close(ctx); err != nil { // flushes
		panic(err)
	}
	for _, f := range strings.Fields(out.String()) {
		if strings.HasPrefix(f, "name=") || strings.HasPrefix(f, "status=") || strings.HasPrefix(f, "error.type=") {
			fmt.Println(f)
		}
	}
	// Output:
	// call: context canceled
	// name="payments"
	// status=Error
	// error.type=canceled
}
