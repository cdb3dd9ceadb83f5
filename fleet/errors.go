package fleet

import "errors"

// ErrNoClient is returned, wrapped, by the constructors given a nil Redis
// client.
var ErrNoClient = errors.New("fleet: New: a Redis client is required")

// ErrContextTimeout is returned, wrapped, by the constructors given a
// go-redis client made without ContextTimeoutEnabled: such a client
// ignores the deadlines of a few milliseconds every fleet call carries,
// and a slow Redis would hold a sync or a notification for seconds.
var ErrContextTimeout = errors.New("fleet: New: the Redis client must be made with ContextTimeoutEnabled: true")

// ErrPending is returned, wrapped, by a switch set while Redis fails: it
// applies on this replica and is shared when Redis answers.
var ErrPending = errors.New("fleet: applied on this replica only, shared when Redis answers")
