// Package fleet makes the replicas of one service behave as one service,
// on Redis (github.com/redis/go-redis/v9): one incident per fault, one
// page, acknowledgements shared; isolation and degradation switched for
// the whole fleet; a rate limit shared by the fleet.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	store, err := fleet.New(rdb, fleet.WithPrefix("checkout"))
//	if err != nil { ... }
//	board, err := firebreak.NewBoard("checkout", firebreak.WithStore(store),
//		firebreak.WithNotifier(webhook))
//	board.Start(ctx) // takes up the fleet's open incidents
//
// The package is called fleet, not redisstore, because its subject is the
// fleet — the replicas of one service and what they must agree on — and
// not the engine it happens to use: besides the [firebreak.Store], it
// holds [Switches] and the [Limiter], which no store interface describes.
// It is the only firebreak package that imports Redis.
//
// # Incidents
//
// [Store] implements [firebreak.Store]; see [firebreak.WithStore] for what
// a Board shares through it. Keys, all under "{prefix}:" (one Redis Cluster
// slot per prefix), each with a TTL:
//
//	key:<group key>   the fleet's incident ID for a fault        TTL
//	inc:<id>          the incident's record (hash)               TTL
//	log:<id>          people's actions on it (list, ≤ 1000)      TTL
//	hold:<id>         replicas whose alerts hold it (zset)       TTL
//	open              open incidents (zset, scored by expiry)    TTL
//	lease:<...>       one per notification sent for the fleet    its lease (≤ TTL)
//	rate:<name>       a Limiter's GCRA time (string)             the burst's span
//	replicas:<name>   a Limiter's replicas (zset)                two replica windows
//
// so an incident costs 4 keys plus one per notification sent for the
// fleet (announcement, escalations, breach, reminders, resolution: about
// ten per receiver), and nothing outlives the TTL (WithTTL, 24h by
// default) once nobody holds it.
//
// # Redis operations
//
// Each Board makes one Redis call per sync interval (one Lua script:
// firebreak.WithSyncInterval, 200ms by default, so 5 per second) at idle,
// whatever the number of incidents. During an incident it adds one Claim
// per incident it opens (and per reconcile), one Append per action a
// person makes through it, and one SET NX per notification its notifiers
// would send. Switches add one call per poll (5 per second by default),
// a Limiter one per refill (20 per second by default). At 20 replicas
// that is about 100 calls per second for the Boards at idle.
//
// Every call carries the store's deadline (WithTimeout, 10ms by default);
// the client must be made with ContextTimeoutEnabled so that go-redis
// applies it to the socket. No call is made on a request's path: Report,
// a breaker's or a gate's call, and [Limiter.Allow] never wait for Redis.
//
// # When Redis fails
//
// A Board falls back to its own state and pages on its own, raising
// [firebreak.KindSharedStateDegraded]; when Redis answers it claims its
// incidents again, merging the ones opened apart under one ID, seeds the
// log with the actions it knows, and sends the ones made meanwhile.
// Switches apply locally and share when Redis answers; a Limiter uses its
// local share of the rate.
//
// # Testing
//
// The tests start their own redis-server (Debian's redis-server package)
// on a free loopback port; without one they are skipped, unless
// FIREBREAK_REQUIRE_SERVERS=1. [firebreak.MemoryStore] plays the same
// rules in memory, for tests inside a testing/synctest bubble.
package fleet
