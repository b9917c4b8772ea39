package keys

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ParseKey reads a sealing key written as base64 (standard or URL
// alphabet, padded or not) or hex.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		if k, err := dec(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("keys: the secret key must be %d bytes in base64 or hex", KeySize)
}

// LoadKeyFile reads the sealing key from path. If the file does not
// exist it is created (and its folder) with a new random key from r,
// readable by its owner only; created says so.
func LoadKeyFile(path string, r io.Reader) (key []byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := ParseKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("keys: read %s: %w", path, err)
	}
	k := make([]byte, KeySize)
	if _, err := io.ReadFull(r, k); err != nil {
		return nil, false, fmt.Errorf("keys: generate the secret key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("keys: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadKeyFile(path, r) // another process made it first
	}
	if err != nil {
		return nil, false, fmt.Errorf("keys: create %s: %w", path, err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("keys: write %s: %w", path, werr)
	}
	return k, true, nil
}
