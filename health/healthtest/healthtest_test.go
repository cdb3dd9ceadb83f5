package healthtest_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/firebreak-go/firebreak/health"
	"github.com/firebreak-go/firebreak/health/healthtest"
)

func TestCheck(t *testing.T) {
	c := healthtest.NewCheck()
	ctx := context.Background()
	if err := c.Check(ctx); err != nil {
		t.Fatal(err)
	}
	c.Fail(nil)
	if err := c.Check(ctx); !errors.Is(err, healthtest.ErrFailing) {
		t.Fatalf("Fail(nil): %v", err)
	}
	boom := errors.New("boom")
	c.Fail(boom)
	if err := c.Check(ctx); !errors.Is(err, boom) {
		t.Fatalf("Fail(boom): %v", err)
	}
	c.Warn(boom)
	if err := c.Check(ctx); !errors.Is(err, health.ErrWarning) || !errors.Is(err, boom) {
		t.Fatalf("Warn(boom): %v", err)
	}
	c.Pass()
	if err := c.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Calls() != 5 || c.MaxConcurrent() != 1 || c.Running() != 0 {
		t.Fatalf("calls %d max %d running %d", c.Calls(), c.MaxConcurrent(), c.Running())
	}
}

func TestHang(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := healthtest.NewCheck()
		c.Hang(false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := c.Check(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("hang honouring ctx: %v", err)
		}
		c.Hang(true)
		done := make(chan error)
		go func() { done <- c.Check(ctx) }() // ctx is already done: ignored
		synctest.Wait()
		if c.Running() != 1 {
			t.Fatalf("running %d, want 1", c.Running())
		}
		c.Release()
		if err := <-done; err != nil {
			t.Fatalf("released: %v", err)
		}
		if err := c.Check(context.Background()); err != nil {
			t.Fatal("runs after Release hang or fail:", err)
		}
	})
}
