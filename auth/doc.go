// Package auth holds the platform's credentials primitives: HS256 JSON Web
// Tokens (issue and strict verification), bcrypt password hashing, and the
// JWT secret kept under DATA_DIR when none is configured. It knows nothing of
// HTTP or storage; the service layer composes it.
package auth
