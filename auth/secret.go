package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/faasplatform/faas/retry"
)

// SecretFile is the name of the generated JWT secret under DATA_DIR.
const SecretFile = "jwt_secret"

// LoadOrCreateSecret returns the JWT secret kept in <dataDir>/jwt_secret,
// creating it on first use: 32 random bytes, hex-encoded (64 characters),
// written with mode 0600 in a directory created with mode 0700. The file is
// created with O_EXCL, so when several processes start together exactly one
// writes the secret and the others read it; a reader that finds the file
// still empty (the writer between create and write) retries for a moment.
// The returned secret is the file's text without surrounding whitespace, so
// an operator may also put a secret of their own there.
func LoadOrCreateSecret(dataDir string) ([]byte, error) {
	return loadOrCreate(dataDir, SecretFile)
}

// LoadSecret returns the JWT secret kept in <dataDir>/jwt_secret without
// creating one: an error wrapping fs.ErrNotExist when there is none yet.
// A process that must not mint a secret of its own (the autoscaler, which
// hands workers a key derived from the gateway's) reads it this way.
func LoadSecret(dataDir string) ([]byte, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("%s: empty data directory: %w", SecretFile, fs.ErrNotExist)
	}
	return readSecret(filepath.Join(dataDir, SecretFile))
}

// NATSPasswordFile is the name of the embedded NATS server's generated
// password under DATA_DIR.
const NATSPasswordFile = "nats_password"

// LoadOrCreateNATSPassword returns the password of the embedded NATS
// server's user, kept in <dataDir>/nats_password and created on first use
// exactly as LoadOrCreateSecret creates the JWT secret (mode 0600).
func LoadOrCreateNATSPassword(dataDir string) (string, error) {
	b, err := loadOrCreate(dataDir, NATSPasswordFile)
	return string(b), err
}

// loadOrCreate is LoadOrCreateSecret for the file name under dataDir.
func loadOrCreate(dataDir, name string) ([]byte, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("%s: empty data directory", name)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: create data directory: %w", name, err)
	}
	path := filepath.Join(dataDir, name)

	secret, err := readSecret(path)
	if err == nil {
		return secret, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}

	text, err := randomHex(32)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readSecret(path) // another process won the race
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.WriteString(text + "\n"); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", path, err)
	}
	return []byte(text), nil
}

// readSecret reads an existing secret file, waiting up to about a second
// for a concurrent creator to finish writing it.
func readSecret(path string) ([]byte, error) {
	var secret []byte
	err := retry.Do(context.Background(), retry.Policy{Tries: 20, Initial: 50 * time.Millisecond, Max: 50 * time.Millisecond}, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return retry.Permanent(fmt.Errorf("read %s: %w", path, err))
		}
		if secret = bytes.TrimSpace(b); len(secret) < MinSecretBytes {
			return fmt.Errorf("%s holds fewer than %d bytes", path, MinSecretBytes)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return secret, nil
}
