package clearing

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// maxRecordBytes bounds what the command reads: a million bids fit.
const maxRecordBytes = 128 << 20

// Command is `keepalive clearing [--verify]`: it reads a clearing record
// (or just its slots, weights_bps, reserve_msat and bids) as JSON from in
// and writes the outcome to out in the same format. With --verify it
// checks the record's own winners and losers instead, and fails when they
// differ from what clearing computes.
func Command(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("clearing", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	verify := fs.Bool("verify", false, "check the record's winners and losers instead of printing them")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("clearing: %w (usage: keepalive clearing [--verify] < record.json)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("clearing: unexpected argument %q (the record comes on stdin)", fs.Arg(0))
	}
	rec, err := ReadRecord(in)
	if err != nil {
		return err
	}
	if *verify {
		if err := Verify(rec); err != nil {
			return err
		}
		_, err := fmt.Fprintf(out, "ok: %d winners and %d losers match\n", len(rec.Winners), len(rec.Losers))
		return err
	}
	computed, err := Recompute(rec)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(computed)
}

// ReadRecord decodes one JSON record from r. Fields it does not know (an
// offering, a period) are ignored; anything after the record is an error.
func ReadRecord(r io.Reader) (Record, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRecordBytes+1))
	if err != nil {
		return Record{}, fmt.Errorf("clearing: read record: %w", err)
	}
	if len(data) > maxRecordBytes {
		return Record{}, fmt.Errorf("clearing: record is larger than %d bytes", maxRecordBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var rec Record
	if err := dec.Decode(&rec); err != nil {
		return Record{}, fmt.Errorf("clearing: record is not valid JSON: %w", err)
	}
	if dec.More() {
		return Record{}, errors.New("clearing: more than one JSON value on input")
	}
	return rec, nil
}

// Recompute clears rec's auction and returns the record as the engine
// would publish it, keeping the displays the given winners had.
func Recompute(rec Record) (Record, error) {
	o, err := Clear(rec.Auction)
	if err != nil {
		return Record{}, err
	}
	displays := make(map[string]*Display, len(rec.Winners))
	for _, w := range rec.Winners {
		displays[w.Bid] = w.Display
	}
	for i := range o.Winners {
		o.Winners[i].Display = displays[o.Winners[i].Bid]
	}
	a := rec.Auction
	if a.Bids == nil {
		a.Bids = []Bid{}
	}
	return Record{Auction: a, Outcome: o}, nil
}

// Verify clears rec's auction and reports every way its winners (slot,
// bid, charge, refund) and losers (bid, refund) differ from the result.
// Displays are not compared.
func Verify(rec Record) error {
	o, err := Clear(rec.Auction)
	if err != nil {
		return err
	}
	var diffs []string
	if len(rec.Winners) != len(o.Winners) {
		diffs = append(diffs, fmt.Sprintf("%d winners, computed %d", len(rec.Winners), len(o.Winners)))
	}
	for i := range min(len(rec.Winners), len(o.Winners)) {
		got, want := rec.Winners[i], o.Winners[i]
		got.Display = nil
		if got != want {
			diffs = append(diffs, fmt.Sprintf("winner %d: slot %d bid %q charge %d refund %d msat, computed slot %d bid %q charge %d refund %d msat",
				i+1, got.Slot, got.Bid, got.Charge, got.Refund, want.Slot, want.Bid, want.Charge, want.Refund))
		}
	}
	if len(rec.Losers) != len(o.Losers) {
		diffs = append(diffs, fmt.Sprintf("%d losers, computed %d", len(rec.Losers), len(o.Losers)))
	}
	for i := range min(len(rec.Losers), len(o.Losers)) {
		if got, want := rec.Losers[i], o.Losers[i]; got != want {
			diffs = append(diffs, fmt.Sprintf("loser %d: bid %q refund %d msat, computed bid %q refund %d msat",
				i+1, got.Bid, got.Refund, want.Bid, want.Refund))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("clearing: the record differs from the computed outcome:\n  %s", strings.Join(diffs, "\n  "))
	}
	return nil
}
