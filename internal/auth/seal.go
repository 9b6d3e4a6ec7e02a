package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MinServerKeyLen is the shortest server key material accepted.
const MinServerKeyLen = 32

// Sealer encrypts signed-mode secrets for the store under the server key
// (AES-256-GCM, a random nonce per secret, the key id as associated data so
// a sealed secret cannot be moved to another key's row).
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the sealing key from material: any string of at least
// MinServerKeyLen bytes (e.g. `openssl rand -hex 32`), surrounding space
// ignored. Every server sharing a store needs the same material.
func NewSealer(material []byte) (*Sealer, error) {
	m := strings.TrimSpace(string(material))
	if len(m) < MinServerKeyLen {
		return nil, fmt.Errorf("the server key must be at least %d characters (try: openssl rand -hex 32)", MinServerKeyLen)
	}
	k := sha256.Sum256([]byte("drover server key v1\x00" + m))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// LoadServerKey reads the server key from file if given, else from the
// value of env (the DROVER_SECRET_KEY variable's content). Neither: nil,
// nil — the server then refuses to create or verify signed-mode keys.
func LoadServerKey(file, env string) (*Sealer, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--secret-key-file: %w", err)
		}
		return NewSealer(b)
	case env != "":
		return NewSealer([]byte(env))
	}
	return nil, nil
}

// Seal encrypts secret for key id.
func (s *Sealer) Seal(keyID, secret string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, []byte(secret), []byte(keyID))
}

// errUnseal is a sealed secret that does not open: another server key, or
// a tampered row.
var errUnseal = errors.New("the signing secret does not open with this server key (is --secret-key-file the same on every server?)")

// Open decrypts what Seal sealed for key id.
func (s *Sealer) Open(keyID string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errUnseal
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(keyID))
	if err != nil {
		return "", errUnseal
	}
	return string(plain), nil
}
