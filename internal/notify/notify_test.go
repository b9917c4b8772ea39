package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
	"github.com/keepalive/keepalive/internal/notify"
)

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case k := <-ch:
		return k
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
		return ""
	}
}

func TestLocalHubDelivers(t *testing.T) {
	h := notify.Local()
	ch, stop := h.Subscribe(notify.InvoiceSettled)
	defer stop()
	other, stopOther := h.Subscribe(notify.StatusChanged)
	defer stopOther()
	if err := h.Publish(context.Background(), notify.InvoiceSettled, "abc"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, ch); got != "abc" {
		t.Fatalf("got %q, want abc", got)
	}
	select {
	case k := <-other:
		t.Fatalf("another topic's subscriber got %q", k)
	default:
	}
}

// TestSlowSubscriberGetsRecheck: a subscriber that does not keep up never
// blocks the hub, and learns that it missed something.
func TestSlowSubscriberGetsRecheck(t *testing.T) {
	h := notify.Local()
	ch, stop := h.Subscribe(notify.StatusChanged)
	defer stop()
	for i := range 100 {
		_ = h.Publish(context.Background(), notify.StatusChanged, string(rune('a'+i%26)))
	}
	sawRecheck := false
	for len(ch) > 0 {
		if <-ch == notify.Recheck {
			sawRecheck = true
		}
	}
	if !sawRecheck {
		t.Fatal("a subscriber that fell behind was not told to re-check")
	}
}

// TestPostgresHubAcrossReplicas: an event published by one replica
// reaches the subscribers of every replica once (the sender's at once), and
// a replica whose listening session dies gets Recheck once it is back.
func TestPostgresHubAcrossReplicas(t *testing.T) {
	url := dbtest.URL(t, db.Postgres)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var hubs []*notify.Hub
	var subs []<-chan string
	for range 3 {
		d, err := db.Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		pool, err := d.SQL()
		if err != nil {
			t.Fatal(err)
		}
		h := notify.Postgres(pool, url, nil)
		ch, stop := h.Subscribe(notify.InvoiceSettled)
		t.Cleanup(stop)
		done := make(chan struct{})
		go func() { defer close(done); h.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		<-h.Listening()
		if got := next(t, ch); got != notify.Recheck {
			t.Fatalf("first event %q, want Recheck (on connect)", got)
		}
		hubs, subs = append(hubs, h), append(subs, ch)
	}
	start := time.Now()
	if err := hubs[1].Publish(ctx, notify.InvoiceSettled, "hash1"); err != nil {
		t.Fatal(err)
	}
	// The sender's own subscribers have it before Publish returns, without
	// the round trip through the database.
	if len(subs[1]) != 1 {
		t.Fatalf("the publishing replica's subscriber holds %d events when Publish returns, want 1", len(subs[1]))
	}
	for i, ch := range subs {
		if got := next(t, ch); got != "hash1" {
			t.Fatalf("replica %d got %q, want hash1", i, got)
		}
	}
	t.Logf("published to 3 replicas in %v", time.Since(start))
	// ...and only once: its own NOTIFY, which reached the others before
	// this next event was sent, is not delivered to it again.
	if err := hubs[0].Publish(ctx, notify.InvoiceSettled, "marker"); err != nil {
		t.Fatal(err)
	}
	for i, ch := range subs {
		if got := next(t, ch); got != "marker" {
			t.Fatalf("replica %d got %q, want marker (hash1 only once)", i, got)
		}
	}

	// Kill replica 0's listening session: it reconnects and re-checks.
	admin, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Gorm(ctx).Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid() AND datname = current_database()
		AND query LIKE '%' || current_schema() || '%'`).Error; err != nil {
		t.Fatal(err)
	}
	for i, ch := range subs {
		if got := next(t, ch); got != notify.Recheck {
			t.Fatalf("replica %d got %q after its session died, want Recheck", i, got)
		}
	}
	if err := hubs[2].Publish(ctx, notify.InvoiceSettled, "hash2"); err != nil {
		t.Fatal(err)
	}
	for i, ch := range subs {
		if got := next(t, ch); got != "hash2" {
			t.Fatalf("replica %d got %q after reconnecting, want hash2", i, got)
		}
	}
}
