package fleet_test

import (
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/firebreak-go/firebreak/fleet"
)

// Bad settings are errors that name the option, all at once.
func ExampleNew_errors() {
	_, err := fleet.New(nil, fleet.WithPrefix(""))
	fmt.Println(err)
	// Output:
	// fleet: New: a Redis client is required
	// fleet: WithPrefix: must be 1 to 64 characters, got ""
}

// The client must apply the store's deadlines of a few milliseconds to the
// socket, so go-redis needs ContextTimeoutEnabled. Making a client does
// not connect, so this runs without Redis.
func ExampleNew() {
	plain := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer plain.Close()
	_, err := fleet.New(plain)
	fmt.Println(errors.Is(err, fleet.ErrContextTimeout))

	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	store, err := fleet.New(rdb, fleet.WithPrefix("checkout"))
	fmt.Println(store != nil, err)
	// Output:
	// true
	// true <nil>
}
