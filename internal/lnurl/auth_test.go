package lnurl

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"

	"github.com/keepalive/keepalive/internal/apperr"
)

// The LUD-04 signature check example.
const (
	lud04K1  = "e2af6254a8df433264fa23f67eb8188635d15ce883e8fc020989d5f82ae6f11e"
	lud04Key = "02c3b844b8104f0c1b15c507774c9ba7fc609f58f343b9b149122e944dd20c9362"
	lud04Sig = "304402203767faf494f110b139293d9bab3c50e07b3bf33c463d4aa767256cd09132dc5102205821f8efacdb5c595b92ada255876d9201e126e2f31a140d44561cc1f7e9e43d"
)

func TestVerifyAuthLUD04Example(t *testing.T) {
	if err := VerifyAuth(lud04K1, lud04Sig, lud04Key); err != nil {
		t.Fatalf("VerifyAuth(LUD-04 example): %v", err)
	}
	if err := VerifyAuth(strings.ToUpper(lud04K1), strings.ToUpper(lud04Sig), strings.ToUpper(lud04Key)); err != nil {
		t.Errorf("VerifyAuth(upper-case hex): %v", err)
	}
}

func TestNewK1(t *testing.T) {
	k1, err := NewK1(bytes.NewReader(bytes.Repeat([]byte{0xab}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if k1 != strings.Repeat("ab", 32) {
		t.Errorf("NewK1 = %s", k1)
	}
	if _, err := NewK1(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Error("NewK1 accepted a short read")
	}
}

func TestAuthURL(t *testing.T) {
	for base, want := range map[string]string{
		"https://auth.k.example/lnurl-auth":        "https://auth.k.example/lnurl-auth?tag=login&k1=" + lud04K1 + "&action=login",
		"https://auth.k.example/lnurl-auth?s=own1": "https://auth.k.example/lnurl-auth?s=own1&tag=login&k1=" + lud04K1 + "&action=login",
	} {
		if got := AuthURL(base, lud04K1, "login"); got != want {
			t.Errorf("AuthURL(%q) = %q, want %q", base, got, want)
		}
	}
	if got := AuthURL("https://k.example/a", lud04K1, "link"); got != "https://k.example/a?tag=login&k1="+lud04K1+"&action=link" {
		t.Errorf("link: %q", got)
	}
}

func testKey(t *testing.T, seed byte) *btcec.PrivateKey {
	t.Helper()
	priv, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{seed}, 32))
	return priv
}

func TestSignVerifyAuth(t *testing.T) {
	priv := testKey(t, 7)
	other := testKey(t, 8)
	sig, key, err := SignAuth(priv, lud04K1)
	if err != nil {
		t.Fatalf("SignAuth: %v", err)
	}
	if err := VerifyAuth(lud04K1, sig, key); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	_, otherKey, _ := SignAuth(other, lud04K1)

	sigBytes, _ := hex.DecodeString(sig)
	flipped := bytes.Clone(sigBytes)
	flipped[len(flipped)-1] ^= 0x01
	otherK1 := "00" + lud04K1[2:]

	// A high-S twin of sig verifies mathematically but is not canonical.
	parsed, _ := ecdsa.ParseDERSignature(sigBytes)
	r, s := parsed.R(), parsed.S()
	s.Negate()
	highS := derSig(r.Bytes(), s.Bytes())
	if lax, err := ecdsa.ParseSignature(highS); err != nil || !lax.Verify(mustHex(t, lud04K1), priv.PubKey()) {
		t.Fatalf("test setup: high-S twin does not verify laxly (%v)", err)
	}
	uncompressed := hex.EncodeToString(priv.PubKey().SerializeUncompressed())

	tests := []struct {
		name         string
		k1, sig, key string
		code         apperr.Code
	}{
		{"tampered sig", lud04K1, hex.EncodeToString(flipped), key, apperr.Unauthorized},
		{"other key", lud04K1, sig, otherKey, apperr.Unauthorized},
		{"other k1", otherK1, sig, key, apperr.Unauthorized},
		{"LUD-04 sig with other key", lud04K1, lud04Sig, key, apperr.Unauthorized},
		{"high S", lud04K1, hex.EncodeToString(highS), key, apperr.Invalid},
		{"trailing byte", lud04K1, sig + "00", key, apperr.Invalid},
		{"uncompressed key", lud04K1, sig, uncompressed, apperr.Invalid},
		{"key not on curve", lud04K1, sig, "02" + strings.Repeat("ff", 32), apperr.Invalid},
		{"key bad prefix", lud04K1, sig, "04" + key[2:], apperr.Invalid},
		{"key not hex", lud04K1, sig, "zz" + key[2:], apperr.Invalid},
		{"key short", lud04K1, sig, key[:64], apperr.Invalid},
		{"sig not hex", lud04K1, "xyz", key, apperr.Invalid},
		{"sig empty", lud04K1, "", key, apperr.Invalid},
		{"sig not DER", lud04K1, strings.Repeat("00", 70), key, apperr.Invalid},
		{"sig too long", lud04K1, strings.Repeat("30", 80), key, apperr.Invalid},
		{"k1 short", lud04K1[:62], sig, key, apperr.Invalid},
		{"k1 not hex", "g" + lud04K1[1:], sig, key, apperr.Invalid},
		{"k1 empty", "", sig, key, apperr.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyAuth(tt.k1, tt.sig, tt.key)
			if err == nil {
				t.Fatal("VerifyAuth succeeded")
			}
			if got := apperr.CodeOf(err); got != tt.code {
				t.Errorf("code = %s, want %s (%v)", got, tt.code, err)
			}
		})
	}
	if _, _, err := SignAuth(priv, "abcd"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("SignAuth(short k1) = %v, want invalid", err)
	}
	var e *apperr.Error
	if err := VerifyAuth(lud04K1, sig, otherKey); !errors.As(err, &e) || e.Message == "" {
		t.Errorf("VerifyAuth error %v carries no user message", err)
	}
}

// derSig encodes r and s (32-byte big-endian) as DER.
func derSig(r, s [32]byte) []byte {
	enc := func(b []byte) []byte {
		for len(b) > 1 && b[0] == 0 && b[1]&0x80 == 0 {
			b = b[1:]
		}
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{0x02, byte(len(b))}, b...)
	}
	body := append(enc(r[:]), enc(s[:])...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

func TestSubmitAuthURLShape(t *testing.T) {
	// withQuery must keep the service's query verbatim and add sig and key.
	got := withQuery("https://a.example/x?tag=login&k1=AB%2F", url.Values{"sig": {"01"}, "key": {"02"}})
	if got != "https://a.example/x?tag=login&k1=AB%2F&key=02&sig=01" {
		t.Errorf("withQuery = %q", got)
	}
	if got := withQuery("https://a.example/cb", url.Values{"amount": {"5"}}); got != "https://a.example/cb?amount=5" {
		t.Errorf("withQuery = %q", got)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
