package offering

import (
	"testing"
	"time"
)

// TestStatusCacheHold: while a change holds an entry nothing is served or
// stored for it (every read loads); released, the next read is stored; a
// read that began before the hold does not store what it read; a hold
// never released (a rolled-back transaction) lapses.
func TestStatusCacheHold(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := newStatusCache(time.Minute)
	c.now = func() time.Time { return now }
	loads := 0
	load := func() (snapshotRow, error) { loads++; return snapshotRow{}, nil }
	read := func(slug string, wantLoads int) {
		t.Helper()
		if _, err := c.get(slug, load); err != nil {
			t.Fatal(err)
		}
		if loads != wantLoads {
			t.Fatalf("%s: %d loads, want %d", slug, loads, wantLoads)
		}
	}
	read("a", 1)
	read("a", 1) // cached

	release := c.hold("a")
	read("a", 2) // the hold dropped the entry
	read("a", 3) // and keeps it from being stored
	second := c.hold("a")
	release()
	read("a", 4) // one transaction still holds it
	second()
	read("a", 5)
	read("a", 5) // stored again

	// A read that began before a hold keeps nothing.
	var releaseB func()
	if _, err := c.get("b", func() (snapshotRow, error) {
		loads++
		releaseB = c.hold("b")
		return snapshotRow{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	releaseB()
	read("b", 7)
	read("b", 7)

	// Never released: it lapses.
	c.hold("c")
	read("c", 8)
	now = now.Add(holdFor)
	read("c", 9)
	read("c", 9)
}
