// Package domain holds the platform's vocabulary: the types a user sees (User,
// Function, Execution), their statuses, the sentinel errors every layer checks
// with errors.Is, the validation rules of the contract, and the small ports the
// services and the worker consume. It imports only the standard library; every
// adapter (NATS, Docker, HTTP, APISIX) depends on it, never the reverse.
package domain
