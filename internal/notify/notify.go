// Package notify carries small events ("this invoice was paid", "this
// offering's status changed") to every replica of the site at once.
//
// Publish hands an event to the replica's own subscribers at once. On
// PostgreSQL it also queues a NOTIFY, and every replica LISTENs on one
// dedicated connection and hands the events of the others to its
// subscribers (each event names the hub it came from, so a replica does
// not hear its own twice). On SQLite the site is one process.
//
// Delivery is best effort: a notification sent while a replica's listener
// is reconnecting is lost. After every (re)connect each subscriber
// receives Recheck, meaning "you may have missed events: read what you
// care about again from the database". Subscribers re-check from the
// database now and then anyway, so a lost event only ever delays an
// update; the database stays the one source of truth.
package notify

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Recheck is the key a subscriber receives when events may have been
// missed.
const Recheck = ""

// Topics of the events the site sends.
const (
	InvoiceSettled = "settled" // key: payment hash
	StatusChanged  = "status"  // key: offering slug
	PayoutQueued   = "payout"  // no key: a payout waits for the worker
)

// Hub fans events out to subscribers, across replicas on PostgreSQL.
type Hub struct {
	db     *sql.DB // PostgreSQL pool to send NOTIFY on; nil: local only
	url    string
	log    *slog.Logger
	origin string // names this hub in the events it sends

	mu   sync.Mutex
	subs map[string]map[chan string]struct{}

	connected chan struct{} // closed once the listener first listens
	outbox    chan string   // events to NOTIFY (PostgreSQL)
	stopped   chan struct{} // closed when Run has returned
	once      sync.Once
}

// Local returns a hub for a site that runs as one process (SQLite).
func Local() *Hub {
	h := newHub(nil, "", nil)
	h.once.Do(func() { close(h.connected) })
	return h
}

// Postgres returns a hub that publishes through pool and listens on its
// own connection to databaseURL, once Run runs.
func Postgres(pool *sql.DB, databaseURL string, log *slog.Logger) *Hub {
	return newHub(pool, databaseURL, log)
}

// PostgresOf is Postgres on the pool of an open database, so that the
// wiring in main never holds a pool it could run SQL on.
func PostgresOf(d interface{ SQL() (*sql.DB, error) }, databaseURL string, log *slog.Logger) (*Hub, error) {
	pool, err := d.SQL()
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return Postgres(pool, databaseURL, log), nil
}

func newHub(pool *sql.DB, url string, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{db: pool, url: url, log: log, origin: rand.Text(), subs: map[string]map[chan string]struct{}{},
		connected: make(chan struct{}), outbox: make(chan string, 4096), stopped: make(chan struct{})}
}

// channelSQL names the NOTIFY channel; the schema is in it so that sites
// sharing a database in separate schemas (tests) do not hear each other.
const channelSQL = "'keepalive:' || current_schema()"

// Publish sends an event on topic to every replica. Call it after the
// caller's transaction has committed, so that a subscriber that reads the
// database on hearing it sees the change. This replica's subscribers have
// it when Publish returns. On PostgreSQL the event is queued for the other
// replicas and sent by Run, several to a round trip, so that the caller
// (the settlement stream) does not wait for it; it fails only when the
// queue stays full until ctx ends or the hub has stopped.
func (h *Hub) Publish(ctx context.Context, topic, key string) error {
	h.deliver(topic, key)
	if h.db == nil {
		return nil
	}
	select {
	case h.outbox <- h.origin + "/" + topic + ":" + key:
		return nil
	case <-h.stopped:
		return fmt.Errorf("notify: publish %s: the hub has stopped", topic)
	case <-ctx.Done():
		return fmt.Errorf("notify: publish %s: %w", topic, ctx.Err())
	}
}

// notifyAll sends a batch of payloads ($1, a text array) in one round trip.
const notifyAll = "SELECT pg_notify(" + channelSQL + ", p) FROM unnest($1::text[]) AS p"

// send sends the queued events until ctx is done, up to maxBatch in one
// statement. An event that cannot be sent is dropped (and logged):
// subscribers re-check from the database.
func (h *Hub) send(ctx context.Context) {
	const maxBatch = 256
	batch := make([]string, 0, maxBatch)
	for {
		select {
		case <-ctx.Done():
			// Shutting down: what is queued goes out still, briefly.
			ctx = context.WithoutCancel(ctx)
			batch = batch[:0]
			for len(h.outbox) > 0 && len(batch) < maxBatch {
				batch = append(batch, <-h.outbox)
			}
			if len(batch) > 0 {
				flushCtx, cancel := context.WithTimeout(ctx, time.Second)
				_, _ = h.db.ExecContext(flushCtx, notifyAll, batch)
				cancel()
			}
			return
		case p := <-h.outbox:
			batch = append(batch[:0], p)
		}
	more:
		for len(batch) < maxBatch {
			select {
			case p := <-h.outbox:
				batch = append(batch, p)
			default:
				break more
			}
		}
		sendCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := h.db.ExecContext(sendCtx, notifyAll, batch)
		cancel()
		if err != nil && ctx.Err() == nil {
			h.log.Warn("notify: events not sent; replicas will see the changes on their next check", "events", len(batch), "err", err)
		}
	}
}

// Subscribe returns a channel of the keys published on topic, and a
// function to stop. A subscriber too slow to take an event gets Recheck
// in its place (the channel keeps room for one), never blocks the hub.
func (h *Hub) Subscribe(topic string) (<-chan string, func()) {
	ch := make(chan string, 16)
	h.mu.Lock()
	if h.subs[topic] == nil {
		h.subs[topic] = map[chan string]struct{}{}
	}
	h.subs[topic][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs[topic], ch)
		h.mu.Unlock()
	}
}

// deliver hands key to every subscriber of topic.
func (h *Hub) deliver(topic, key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[topic] {
		send(ch, key)
	}
}

// recheckAll tells every subscriber that it may have missed events.
func (h *Hub) recheckAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, chans := range h.subs {
		for ch := range chans {
			send(ch, Recheck)
		}
	}
}

// send puts key on ch without blocking. A subscriber that is behind
// loses its oldest event and gets Recheck in its place: it never blocks
// the hub, and it knows to read the database again.
func send(ch chan string, key string) {
	for {
		select {
		case ch <- key:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
		key = Recheck
	}
}

// idlePing is how long the listener waits silently before it checks its
// connection.
const idlePing = 15 * time.Second

// Listening is closed once the hub receives events (at once for a local
// hub): a test or a readiness check may wait on it.
func (h *Hub) Listening() <-chan struct{} { return h.connected }

// Run listens for events until ctx is done, reconnecting with backoff
// when the connection breaks; a local hub returns at once.
func (h *Hub) Run(ctx context.Context) {
	if h.db == nil {
		return
	}
	defer close(h.stopped)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		h.send(ctx)
	}()
	defer func() { <-sent }()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := h.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		h.log.Warn("notify: listener stopped; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// listen connects, LISTENs and delivers notifications until the
// connection fails or ctx is done.
func (h *Hub) listen(ctx context.Context) error {
	connectCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(connectCtx, h.url)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var channel string
	if err := conn.QueryRow(ctx, "SELECT "+channelSQL).Scan(&channel); err != nil {
		return fmt.Errorf("channel name: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	h.once.Do(func() { close(h.connected) })
	// Whatever was published while this replica was not listening is
	// lost: subscribers read the database again.
	h.recheckAll()
	for {
		// A connection that died without a word (a cut cable) would
		// wait forever: one silent for a while is pinged.
		waitCtx, cancel := context.WithTimeout(ctx, idlePing)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		if err != nil && ctx.Err() == nil && waitCtx.Err() != nil {
			if err := conn.Ping(ctx); err != nil {
				return fmt.Errorf("ping: %w", err)
			}
			continue
		}
		if err != nil {
			return err
		}
		topic, key, ok := strings.Cut(n.Payload, ":")
		if !ok {
			continue
		}
		if origin, t, ok := strings.Cut(topic, "/"); ok {
			if origin == h.origin {
				continue // delivered here when it was published
			}
			topic = t
		}
		h.deliver(topic, key)
	}
}
