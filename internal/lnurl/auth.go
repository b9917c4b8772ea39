package lnurl

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"

	"github.com/keepalive/keepalive/internal/apperr"
)

// K1Len is the size of an LNURL-auth challenge in bytes.
const K1Len = 32

// NewK1 returns a fresh LNURL-auth (or withdraw) challenge: 32 bytes from
// rand, hex encoded. Pass crypto/rand.Reader outside tests.
func NewK1(rand io.Reader) (string, error) {
	var b [K1Len]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("lnurl: reading k1 randomness: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// AuthURL returns the LNURL-auth address for challenge k1 at base, keeping
// any query base already has, with the one action LUD-04 lets a service
// name ("register", "login", "link" or "auth"). Wallets derive the login
// key from the host, so base's host must never change once owners have
// signed in.
func AuthURL(base, k1, action string) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "tag=" + TagLogin + "&k1=" + url.QueryEscape(k1) + "&action=" + url.QueryEscape(action)
}

// VerifyAuth checks an LNURL-auth answer: sigHex must be a strict DER, low-S
// ECDSA signature by the compressed secp256k1 key keyHex over the 32 raw k1
// bytes (not hashed again). Malformed input is apperr.Invalid; a well-formed
// signature that does not verify is apperr.Unauthorized. Whether k1 was issued
// and is unused is the caller's business.
func VerifyAuth(k1Hex, sigHex, keyHex string) error {
	k1, err := decodeK1(k1Hex)
	if err != nil {
		return err
	}
	if len(keyHex) != 2*33 {
		return apperr.New(apperr.Invalid, "The login key must be a 33-byte compressed public key in hex.")
	}
	keyBytes, err := hex.DecodeString(keyHex)
	if err != nil {
		return apperr.Wrap(err, apperr.Invalid, "The login key is not hex.")
	}
	if keyBytes[0] != 0x02 && keyBytes[0] != 0x03 {
		return apperr.New(apperr.Invalid, "The login key is not a compressed public key.")
	}
	pub, err := btcec.ParsePubKey(keyBytes)
	if err != nil {
		return apperr.Wrap(err, apperr.Invalid, "The login key is not a valid secp256k1 public key.")
	}
	if len(sigHex) > 2*ecdsa.MaxSigLen {
		return apperr.New(apperr.Invalid, "The login signature is too long.")
	}
	sigBytes, err := hex.DecodeString(sigHex)
	if err != nil {
		return apperr.Wrap(err, apperr.Invalid, "The login signature is not hex.")
	}
	sig, err := ecdsa.ParseDERSignature(sigBytes)
	if err != nil {
		return apperr.Wrap(err, apperr.Invalid, "The login signature is not DER encoded.")
	}
	// ParseDERSignature ignores trailing bytes and accepts high S; requiring
	// the canonical encoding keeps one signature per (key, k1), as
	// libsecp256k1-based verifiers do.
	if !bytes.Equal(sig.Serialize(), sigBytes) {
		return apperr.New(apperr.Invalid, "The login signature is not in canonical form.")
	}
	if !sig.Verify(k1, pub) {
		return apperr.New(apperr.Unauthorized, "The login signature does not match the key.")
	}
	return nil
}

// SignAuth answers an LNURL-auth challenge as a wallet does: a DER signature
// over the raw k1 bytes and the compressed public key, both hex.
func SignAuth(priv *btcec.PrivateKey, k1Hex string) (sigHex, keyHex string, err error) {
	k1, err := decodeK1(k1Hex)
	if err != nil {
		return "", "", err
	}
	sig := ecdsa.Sign(priv, k1)
	return hex.EncodeToString(sig.Serialize()), hex.EncodeToString(priv.PubKey().SerializeCompressed()), nil
}

func decodeK1(k1Hex string) ([]byte, error) {
	if len(k1Hex) != 2*K1Len {
		return nil, apperr.New(apperr.Invalid, "The login challenge must be %d bytes in hex.", K1Len)
	}
	k1, err := hex.DecodeString(k1Hex)
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "The login challenge is not hex.")
	}
	return k1, nil
}

// K1Hash is what a service stores of a k1 it issued: k1 is a bearer
// secret (whoever presents it acts), so only its hash is kept.
func K1Hash(k1 string) string {
	h := sha256.Sum256([]byte(strings.ToLower(k1)))
	return hex.EncodeToString(h[:])
}
