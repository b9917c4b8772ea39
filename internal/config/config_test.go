package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.BaseURL != "http://127.0.0.1:8080" || c.Lightning != LightningDemo ||
		c.DatabaseURL != "" || c.SecureCookies || c.AccrualInterval != time.Minute || c.MinDonation != 1000 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	c, err := Load([]string{"-addr", "0.0.0.0:9000"}, env(map[string]string{
		"KEEPALIVE_ADDR": "127.0.0.1:1", "KEEPALIVE_BASE_URL": "https://keepalive.example/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "0.0.0.0:9000" || c.BaseURL != "https://keepalive.example" || !c.SecureCookies {
		t.Fatalf("%+v", c)
	}
}

func TestInvalidConfigurationIsExplained(t *testing.T) {
	cases := map[string]map[string]string{
		"KEEPALIVE_LIGHTNING":          {"KEEPALIVE_LIGHTNING": "clightning"},
		"LND_GRPC_ADDR":                {"KEEPALIVE_LIGHTNING": "lnd"},
		"KEEPALIVE_BASE_URL":           {"KEEPALIVE_BASE_URL": "ftp://x"},
		"KEEPALIVE_MIN_DONATION_SAT":   {"KEEPALIVE_MIN_DONATION_SAT": "zero"},
		"KEEPALIVE_MAX_DONATION_SAT":   {"KEEPALIVE_MAX_DONATION_SAT": "99999999999999999"},
		"KEEPALIVE_ACCRUAL_INTERVAL":   {"KEEPALIVE_ACCRUAL_INTERVAL": "1ms"},
		"KEEPALIVE_INVOICE_RATE":       {"KEEPALIVE_INVOICE_RATE": "-1"},
		"KEEPALIVE_LOG_LEVEL":          {"KEEPALIVE_LOG_LEVEL": "loud"},
		"KEEPALIVE_SECRET_KEY":         {"KEEPALIVE_SECRET_KEY": "too-short"},
		"KEEPALIVE_REGTEST_CLOCK_SKEW": {"KEEPALIVE_REGTEST_CLOCK_SKEW": "an hour"},
	}
	for want, e := range cases {
		_, err := Load(nil, env(e))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: err = %v, want it to name %s", e, err, want)
		}
	}
	c, err := Load(nil, env(map[string]string{"KEEPALIVE_LIGHTNING": "lnd", "LND_GRPC_ADDR": "127.0.0.1:10009",
		"LND_TLS_CERT_HEX": "00", "LND_MACAROON_PATH": "/m"}))
	if err != nil || c.LND.TLSCertHex != "00" {
		t.Fatalf("lnd config: %v", err)
	}
}

func TestRegtestClockSkew(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil || c.RegtestClockSkew != 0 {
		t.Fatalf("default skew %v, %v", c.RegtestClockSkew, err)
	}
	for in, want := range map[string]time.Duration{"90m": 90 * time.Minute, "-2h": -2 * time.Hour, "1h0m15s": time.Hour + 15*time.Second} {
		c, err := Load(nil, env(map[string]string{"KEEPALIVE_REGTEST_CLOCK_SKEW": in}))
		if err != nil || c.RegtestClockSkew != want {
			t.Errorf("%q: %v, %v; want %v", in, c.RegtestClockSkew, err, want)
		}
	}
}

func TestSecretKey(t *testing.T) {
	key := strings.Repeat("ab", 32)
	c, err := Load([]string{"-secret-key-file", "/run/secrets/ka"}, env(map[string]string{"KEEPALIVE_SECRET_KEY": key}))
	if err != nil || len(c.SecretKey) != 32 || c.SecretKey[0] != 0xab || c.SecretKeyFile != "/run/secrets/ka" {
		t.Fatalf("%x %q %v", c.SecretKey, c.SecretKeyFile, err)
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := Load(nil, env(map[string]string{"KEEPALIVE_TRUSTED_PROXIES": " 10.0.0.0/8, 192.168.1.7 ,fd00::/8"}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 192.168.1.7/32 fd00::/8" {
		t.Fatalf("trusted proxies %v", got)
	}
	if _, err := Load(nil, env(map[string]string{"KEEPALIVE_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"})); err == nil ||
		!strings.Contains(err.Error(), "KEEPALIVE_TRUSTED_PROXIES") {
		t.Fatalf("a host name was accepted as a proxy: %v", err)
	}
}
