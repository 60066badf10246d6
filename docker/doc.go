// Package docker is the domain.Runtime adapter that runs executions in
// Docker containers with hard limits: in a fresh container removed afterwards
// (a cold start, and always for RunSpec.Warm false), or in a warm container
// of the same function version kept between executions (warm.go, pool.go),
// whose PID 1 is faas-init (cmd/faas-init): each execution is a fresh
// process, and init kills every process it left and empties the writable
// tmpfs mounts before the container serves again. Container creations and
// starts, cold or warm, share Options.ColdStartConcurrency slots.
//
// The Docker SDK stays inside this package: Runtime holds a narrow unexported
// interface of the client methods it uses, and nothing of the SDK shows in its
// exported API.
//
// # Speed
//
// Run follows the fastest cold path measured on Docker 20.10 (see
// shared/spec/performance-facts.md):
//
//   - container.Config.NetworkDisabled for network "none": it drops the
//     libnetwork-setkey prestart hook (a re-exec of dockerd, ~124 ms of CPU)
//     that the daemon otherwise runs for every container with its own network
//     namespace. The container still gets its own namespace with only lo.
//   - the logging driver "none": output reaches the platform through the
//     attach stream only, so the daemon neither copies it to a json-file on
//     disk nor keeps what a function writes past the platform's caps.
//   - the wait for the exit is registered (condition "next-exit") and the
//     streams attached before the start, so nothing is missed and no extra
//     round trip follows the start.
//   - the container is removed in the background once the result is known;
//     Close waits for those removals.
//
// # Containers
//
// Each container carries the labels faas.execution_id (cold only: a warm one
// serves many), faas.function_id and faas.worker_id; warm ones also
// faas.warm, faas.owner and faas.pool_key. RemoveOrphans uses faas.worker_id
// to remove the containers a dead worker left behind.
package docker
