package statustoken

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"
)

// SignClaims signs any JSON claims with the site's key, as a compact JWS
// with the same header as status tokens: receipts (an investment, so the
// investor can prove the claim even if the site's database is lost) are
// verified against the same published key.
func (s *Signer) SignClaims(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("statustoken: encode claims: %w", err)
	}
	signing := s.header + "." + b64.EncodeToString(payload)
	return signing + "." + b64.EncodeToString(ed25519.Sign(s.priv, []byte(signing))), nil
}

// VerifyClaims checks a JWS made by SignClaims against pub and decodes
// its claims into v. Receipts do not expire: there is no time to check.
func VerifyClaims(token string, pub ed25519.PublicKey, v any) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("statustoken: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	head, rest, ok1 := strings.Cut(token, ".")
	payload, sig64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig64, ".") {
		return ErrMalformed
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := decodePart(head, &h); err != nil {
		return err
	}
	if h.Alg != Algorithm {
		return fmt.Errorf("%w: alg %q", ErrMalformed, h.Alg)
	}
	sig, err := b64.DecodeString(sig64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature encoding", ErrMalformed)
	}
	if !ed25519.Verify(pub, []byte(token[:len(head)+1+len(payload)]), sig) {
		return ErrSignature
	}
	return decodePart(payload, v)
}
