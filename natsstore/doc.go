// Package natsstore is the NATS JetStream adapter of the platform: it starts
// an embedded server when no external one is configured, declares the
// buckets, object store, stream and consumer of contract §5 (Setup), and
// implements the domain's ports on top of them: UserStore, FunctionStore and
// ExecutionStore on KV buckets, Queue and Consumer on the EXECUTIONS stream,
// and WorkerRegistry on a TTL bucket of worker heartbeats.
//
// Uniqueness (usernames, function names per owner) rests on KV Create, which
// JetStream makes atomic; read-modify-write updates rest on KV Update with
// the revision read, retried when another writer got there first. Nothing
// here assumes the server is embedded.
package natsstore
