package lnd

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/lightningnetwork/lnd/zpay32"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"gopkg.in/macaroon.v2"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/money"
)

var testKey, _ = btcec.PrivKeyFromBytes([]byte(strings.Repeat("k", 32)))

// encodeInvoice makes a signed BOLT11 string, as a foreign node would.
func encodeInvoice(t *testing.T, params *chaincfg.Params, msat uint64, created time.Time) (string, [32]byte) {
	t.Helper()
	hash := sha256.Sum256([]byte("preimage"))
	opts := []func(*zpay32.Invoice){
		zpay32.Description("coffee"),
		zpay32.Expiry(10 * time.Minute),
		zpay32.PaymentAddr([32]byte{1}),
	}
	if msat > 0 {
		opts = append(opts, zpay32.Amount(lnwire.MilliSatoshi(msat)))
	}
	inv, err := zpay32.NewInvoice(params, hash, created, opts...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := inv.Encode(zpay32.MessageSigner{SignCompact: func(msg []byte) ([]byte, error) {
		return ecdsa.SignCompact(testKey, chainhash.HashB(msg), true), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	return s, hash
}

// offlineNode is a Node with no connection: any RPC would panic, so tests
// using it also prove that validation happens before lnd is called.
func offlineNode() *Node {
	return &Node{params: &chaincfg.RegressionNetParams, timeout: time.Second, now: time.Now}
}

func TestDecodePaymentRequest(t *testing.T) {
	created := time.Unix(1_700_000_000, 0)
	regtest, hash := encodeInvoice(t, &chaincfg.RegressionNetParams, 1_234_567, created)
	noAmount, _ := encodeInvoice(t, &chaincfg.RegressionNetParams, 0, created)
	maxAmount, _ := encodeInvoice(t, &chaincfg.RegressionNetParams, uint64(money.MaxMsat), created)
	tooLarge, _ := encodeInvoice(t, &chaincfg.RegressionNetParams, uint64(money.MaxMsat)+1, created)
	mainnet, _ := encodeInvoice(t, &chaincfg.MainNetParams, 1000, created)

	tests := []struct {
		name    string
		in      string
		wantErr bool
		amount  money.Msat
	}{
		{"regtest invoice", regtest, false, 1_234_567},
		{"with URI scheme", "LIGHTNING:" + regtest, false, 1_234_567},
		{"no amount", noAmount, false, 0},
		{"exactly 21M BTC", maxAmount, false, money.MaxMsat},
		{"above 21M BTC", tooLarge, true, 0},
		{"mainnet invoice on regtest", mainnet, true, 0},
		{"garbage", "lnbcrt1garbage", true, 0},
		{"empty", "", true, 0},
		{"tampered", regtest[:len(regtest)-8] + "qqqqqqqq", true, 0},
	}
	n := offlineNode()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := n.DecodePaymentRequest(context.Background(), tc.in)
			if tc.wantErr {
				if !errors.Is(err, lightning.ErrInvalidPaymentRequest) {
					t.Fatalf("err = %v, want ErrInvalidPaymentRequest", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.AmountMsat != tc.amount {
				t.Errorf("amount = %d, want %d", got.AmountMsat, tc.amount)
			}
			if got.PaymentHash != hash {
				t.Errorf("hash = %x, want %x", got.PaymentHash, hash)
			}
			if got.Description != "coffee" || !got.CreatedAt.Equal(created) || got.Expiry != 10*time.Minute {
				t.Errorf("decoded %+v", got)
			}
			wantDest := strings.ToLower(strings.TrimSpace(got.Destination))
			if len(wantDest) != 66 {
				t.Errorf("destination %q is not a compressed key", got.Destination)
			}
		})
	}
}

// TestAmountBoundaries checks that out-of-range amounts stop at the
// boundary, before any RPC (the offline node has no client).
func TestAmountBoundaries(t *testing.T) {
	n := offlineNode()
	ctx := context.Background()
	bolt11, _ := encodeInvoice(t, &chaincfg.RegressionNetParams, 1000, time.Now())
	tests := []struct {
		name string
		call func() error
	}{
		{"invoice above MaxMsat", func() error {
			_, err := n.CreateInvoice(ctx, lightning.CreateInvoiceRequest{AmountMsat: money.MaxMsat + 1})
			return err
		}},
		{"negative invoice", func() error {
			_, err := n.CreateInvoice(ctx, lightning.CreateInvoiceRequest{AmountMsat: -1})
			return err
		}},
		{"short description hash", func() error {
			_, err := n.CreateInvoice(ctx, lightning.CreateInvoiceRequest{AmountMsat: 1, DescriptionHash: []byte{1}})
			return err
		}},
		{"payment above MaxMsat", func() error {
			_, err := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: bolt11, AmountMsat: money.MaxMsat + 1})
			return err
		}},
		{"fee limit above MaxMsat", func() error {
			_, err := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: bolt11, FeeLimitMsat: money.MaxMsat + 1})
			return err
		}},
		{"amount differs from invoice", func() error {
			_, err := n.SendPayment(ctx, lightning.PayRequest{PaymentRequest: bolt11, AmountMsat: 999})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil {
				t.Fatal("accepted")
			}
			if code := apperr.CodeOf(err); code != apperr.Invalid {
				t.Errorf("code = %s, want invalid (%v)", code, err)
			}
		})
	}
}

func TestExplainConnectError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"refused", status.Error(codes.Unavailable, "connection error: dial tcp 127.0.0.1:1: connect: connection refused"), "unreachable"},
		{"wrong cert", status.Error(codes.Unavailable, "connection error: desc = \"transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority\""), "TLS certificate rejected"},
		{"wrong macaroon", status.Error(codes.Unknown, "verification failed: signature mismatch after caveat verification"), "macaroon rejected"},
		{"locked", status.Error(codes.Unknown, "wallet locked, unlock it to enable full RPC access"), "not ready"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := explainConnectError("127.0.0.1:1", tc.err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q does not say %q", err, tc.want)
			}
			if apperr.CodeOf(err) != apperr.Unavailable {
				t.Errorf("code = %s, want unavailable", apperr.CodeOf(err))
			}
		})
	}
}

func TestIsDuplicateInvoice(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{status.Error(codes.Unknown, "invoice with payment hash already exists"), true},
		{status.Error(codes.AlreadyExists, "anything"), true},
		{status.Error(codes.Unknown, "amount too large"), false},
		{errors.New("eof"), false},
	}
	for _, tc := range tests {
		if got := isDuplicateInvoice(tc.err); got != tc.want {
			t.Errorf("isDuplicateInvoice(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// An empty or torn macaroon (lnd writes the file in place) is refused when
// the connection is made, with an error that names it, instead of every
// call failing later with lnd's "empty macaroon data".
func TestDialRefusesEmptyOrTornMacaroon(t *testing.T) {
	m, err := macaroon.New([]byte("root key"), []byte("id"), "lnd", macaroon.LatestVersion)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		data    []byte
		wantErr string
	}{
		"empty":   {nil, "macaroon is empty"},
		"torn":    {whole[:len(whole)/2], "not a macaroon"},
		"garbage": {[]byte("hello"), "not a macaroon"},
		"whole":   {whole, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "admin.macaroon")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadMacaroon(Config{MacaroonPath: path})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("whole macaroon refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
