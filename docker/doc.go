// Package docker is the domain.Runtime adapter that runs one execution in one
// fresh Docker container (a cold start), with hard limits, and removes the
// container afterwards whatever happens.
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
// Each container carries the labels faas.execution_id, faas.function_id and
// faas.worker_id. RemoveOrphans uses the last one to remove the containers a
// dead worker left behind.
package docker
