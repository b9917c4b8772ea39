package clearing

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

const workedExample = `{"slots":3,"weights_bps":[10000,6000,3000],"reserve_msat":1000000,"bids":[
 {"id":"a","amount_msat":10000000,"settled_at":"2026-12-01T00:00:00Z"},
 {"id":"b","amount_msat":8000000,"settled_at":"2026-12-01T00:01:00Z"},
 {"id":"c","amount_msat":5000000,"settled_at":"2026-12-01T00:02:00Z"},
 {"id":"d","amount_msat":2000000,"settled_at":"2026-12-01T00:03:00Z"}]}`

func TestCommandPrintsOutcome(t *testing.T) {
	var out bytes.Buffer
	if err := Command(nil, strings.NewReader(workedExample), &out); err != nil {
		t.Fatal(err)
	}
	var rec Record
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("output is not a record: %v\n%s", err, out.String())
	}
	if len(rec.Bids) != 4 || len(rec.Winners) != 3 || rec.Winners[0].Charge != 5_300_000 || rec.Winners[2].Charge != 600_000 ||
		len(rec.Losers) != 1 || rec.Losers[0].Bid != "d" {
		t.Errorf("unexpected outcome:\n%s", out.String())
	}
	// The output verifies, and so does the same record with displays and
	// fields the command does not know.
	withExtras := strings.Replace(out.String(), `"bid": "a",`, `"bid": "a", "display": {"name": "Acme", "url": "https://acme.example"},`, 1)
	withExtras = strings.Replace(withExtras, `"slots"`, `"offering": "x", "start": "2026-12-07T00:00:00Z", "slots"`, 1)
	for _, in := range []string{out.String(), withExtras} {
		var v bytes.Buffer
		if err := Command([]string{"--verify"}, strings.NewReader(in), &v); err != nil {
			t.Errorf("--verify on the command's own output: %v\n%s", err, in)
		}
		if !strings.HasPrefix(v.String(), "ok: 3 winners and 1 losers match") {
			t.Errorf("--verify printed %q", v.String())
		}
	}
	// Displays are carried from input to output.
	var again bytes.Buffer
	if err := Command(nil, strings.NewReader(withExtras), &again); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(again.String(), `"name": "Acme"`) {
		t.Errorf("display lost:\n%s", again.String())
	}
}

func TestCommandVerifyFails(t *testing.T) {
	var out bytes.Buffer
	if err := Command(nil, strings.NewReader(workedExample), &out); err != nil {
		t.Fatal(err)
	}
	good := out.String()
	tests := []struct{ name, from, to string }{
		{"charge", `"charge_msat": 5300000`, `"charge_msat": 5300001`},
		{"refund", `"refund_msat": 2000000`, `"refund_msat": 1999999`},
		{"slot order", `"bid": "a"`, `"bid": "x"`},
		{"a loser missing", `"losers": [`, `"losers": [], "ignored": [`},
		{"no outcome at all", `"winners": [`, `"winners": [], "was": [`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(good, tt.from, tt.to, 1)
			if bad == good {
				t.Fatalf("%q not in the output", tt.from)
			}
			err := Command([]string{"--verify"}, strings.NewReader(bad), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), "differs") {
				t.Errorf("--verify error = %v, want a difference", err)
			}
		})
	}
}

func TestCommandRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		in   string
	}{
		{"not json", nil, "slots: 3"},
		{"two values", nil, workedExample + workedExample},
		{"fractional msat", nil, `{"slots":1,"weights_bps":[10000],"reserve_msat":1.5}`},
		{"bad terms", nil, `{"slots":2,"weights_bps":[10000],"reserve_msat":1}`},
		{"unknown flag", []string{"--fast"}, workedExample},
		{"argument", []string{"record.json"}, workedExample},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Command(tt.args, strings.NewReader(tt.in), &bytes.Buffer{}); err == nil {
				t.Error("Command() succeeded")
			}
		})
	}
}

// FuzzCommand: whatever comes on stdin, the command never panics, and
// when it prints a record, that record verifies, keeps every bid once and
// charges no winner more than its bid.
func FuzzCommand(f *testing.F) {
	f.Add([]byte(workedExample))
	f.Add([]byte(`{"slots":1,"weights_bps":[10000],"reserve_msat":0,"bids":[]}`))
	f.Add([]byte(`{"slots":2,"weights_bps":[10000,1],"reserve_msat":2099999999999999999,"bids":[{"id":"a","amount_msat":2100000000000000000,"settled_at":"0001-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"slots":10,"weights_bps":[10000,9000,8000,7000,6000,5000,4000,3000,2000,1000],"reserve_msat":1,"bids":[{"id":"a","amount_msat":5},{"id":"b","amount_msat":5}],"winners":[{"slot":1,"bid":"b","charge_msat":0,"refund_msat":5}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		if err := Command(nil, bytes.NewReader(in), &out); err != nil {
			return
		}
		rec, err := ReadRecord(&out)
		if err != nil {
			t.Fatalf("printed record does not read back: %v", err)
		}
		if err := Verify(rec); err != nil {
			t.Fatalf("printed record does not verify: %v", err)
		}
		if len(rec.Winners)+len(rec.Losers) != len(rec.Bids) {
			t.Fatalf("%d bids, %d winners, %d losers", len(rec.Bids), len(rec.Winners), len(rec.Losers))
		}
		amounts := map[string]int64{}
		for _, b := range rec.Bids {
			amounts[b.ID] = int64(b.Amount)
		}
		for _, w := range rec.Winners {
			if int64(w.Charge) > amounts[w.Bid] || w.Charge < 0 || int64(w.Charge+w.Refund) != amounts[w.Bid] {
				t.Fatalf("winner %+v of bid %d", w, amounts[w.Bid])
			}
		}
	})
}
