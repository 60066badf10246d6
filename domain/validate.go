package domain

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

var (
	functionNameRe = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)
	usernameRe     = regexp.MustCompile(`^[A-Za-z0-9_-]{3,32}$`)
	envKeyRe       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	emailRe        = regexp.MustCompile(`^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$`)
	idRe           = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

	// Docker image reference grammar (distribution/reference), anchored.
	imageRefRe = regexp.MustCompile(`^` +
		`(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/)?` + // domain
		`[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*)*` + // path
		`(?::[\w][\w.-]{0,127})?` + // tag
		`(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`) // digest
)

// ReservedEnvPrefix is the prefix of the variables the platform sets itself.
const ReservedEnvPrefix = "FAAS_"

// ValidateUsername checks a username: 3 to 32 of letters, digits, '_' or '-'.
func ValidateUsername(s string) error {
	if !usernameRe.MatchString(s) {
		return Invalid("username must be 3 to 32 characters of letters, digits, '_' or '-'")
	}
	return nil
}

// MaxIDBytes is the longest id the API accepts in a path, a query or a body.
// Ids the platform makes are UUIDs (36 bytes); the cap keeps every NATS key
// built from an id far below the server's control-line limit.
const MaxIDBytes = 64

// ValidateID checks an id that came from outside (what names it, e.g.
// "function_id", goes in the message): 1 to MaxIDBytes letters, digits, '-'
// or '_'. Such a string is always one safe token of a NATS subject or KV key.
func ValidateID(what, s string) error {
	if !idRe.MatchString(s) {
		return Invalid("%s must be 1 to %d characters of letters, digits, '-' or '_'", what, MaxIDBytes)
	}
	return nil
}

// ValidatePassword checks a password: 8 to 72 bytes (bcrypt's limit).
func ValidatePassword(s string) error {
	if len(s) < 8 || len(s) > 72 {
		return Invalid("password must be 8 to 72 bytes long")
	}
	return nil
}

// ValidateEmail checks an e-mail address loosely (one '@', a dotted domain).
func ValidateEmail(s string) error {
	if len(s) > 254 || !emailRe.MatchString(s) {
		return Invalid("email must be a valid e-mail address")
	}
	return nil
}

// ValidateFunctionName checks a name: 1 to 63 of lower-case letters, digits, '-'.
func ValidateFunctionName(s string) error {
	if !functionNameRe.MatchString(s) {
		return Invalid("name must be 1 to 63 characters of lower-case letters, digits or '-'")
	}
	return nil
}

// ValidateImageRef checks a Docker image reference such as
// "registry:5000/team/echo:1.2" or "echo@sha256:...".
func ValidateImageRef(s string) error {
	if s == "" || len(s) > 255 || !imageRefRe.MatchString(s) || upperCaseRepository(s) {
		return Invalid("image_url must be a valid Docker image reference, e.g. 'faas-examples/echo:latest'")
	}
	return nil
}

// ApplyFunctionDefaults fills zero fields with the contract's defaults.
func ApplyFunctionDefaults(f *Function) {
	if f.Timeout == 0 {
		f.Timeout = DefaultTimeoutSeconds
	}
	if f.MemoryMB == 0 {
		f.MemoryMB = DefaultMemoryMB
	}
	if f.CPUs == 0 {
		f.CPUs = DefaultCPUs
	}
	if f.Network == "" {
		f.Network = NetworkNone
	}
	if f.Env == nil {
		f.Env = map[string]string{}
	}
	// false is a value a user may give: only a new function (Create
	// applies the defaults before the request's fields) gets true here.
	if f.CreatedAt.IsZero() {
		f.Warm = true
	}
}

// ValidateFunction checks every user-set field of f (after defaults).
func ValidateFunction(f *Function) error {
	if err := ValidateFunctionName(f.Name); err != nil {
		return err
	}
	if err := ValidateImageRef(f.ImageURL); err != nil {
		return err
	}
	if len(f.Description) > MaxDescriptionBytes || !utf8.ValidString(f.Description) {
		return Invalid("description must be valid UTF-8 of at most %d bytes", MaxDescriptionBytes)
	}
	if f.Timeout < 1 || f.Timeout > MaxTimeoutSeconds {
		return Invalid("timeout must be 1 to %d seconds", MaxTimeoutSeconds)
	}
	if f.MemoryMB < MinMemoryMB || f.MemoryMB > MaxMemoryMB {
		return Invalid("memory_mb must be %d to %d", MinMemoryMB, MaxMemoryMB)
	}
	if f.CPUs < 0.01 || f.CPUs > MaxCPUs {
		return Invalid("cpus must be 0.01 to %g", MaxCPUs)
	}
	if f.Network != NetworkNone && f.Network != NetworkInternal {
		return Invalid("network must be %q or %q", NetworkNone, NetworkInternal)
	}
	if f.MaxRetries < 0 || f.MaxRetries > MaxFunctionRetries {
		return Invalid("max_retries must be 0 to %d", MaxFunctionRetries)
	}
	if len(f.Env) > MaxEnvVars {
		return Invalid("env may hold at most %d variables", MaxEnvVars)
	}
	for k, v := range f.Env {
		if !envKeyRe.MatchString(k) {
			return Invalid("env key %q must match [A-Za-z_][A-Za-z0-9_]* (at most 128 characters)", k)
		}
		if strings.HasPrefix(strings.ToUpper(k), ReservedEnvPrefix) {
			return Invalid("env key %q uses the reserved prefix %s", k, ReservedEnvPrefix)
		}
		if len(v) > MaxEnvValueBytes || strings.ContainsRune(v, 0) {
			return Invalid("env value of %q must be at most %d bytes without NUL", k, MaxEnvValueBytes)
		}
	}
	return nil
}

// upperCaseRepository reports a first component with upper-case letters that
// Docker does not read as a registry host (no '.' or ':', not "localhost"):
// Docker refuses such names ("repository name must be lowercase").
func upperCaseRepository(ref string) bool {
	first, _, found := strings.Cut(ref, "/")
	if !found || strings.ContainsAny(first, ".:") || first == "localhost" {
		return false
	}
	return strings.ToLower(first) != first
}
