package e2e

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/invoicesrpc"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/ledger"
	"github.com/keepalive/keepalive/internal/money"
)

// chaosDonations is how many donations the chaos test makes and pays.
const chaosDonations = 500

// TestChaosReplicas: three replicas of the site share one PostgreSQL
// schema and one lnd. Donations are created on each in turn, their
// invoice pages watched (SSE) on the replica that made them, and paid by
// the payer node, while replicas are SIGKILLed and restarted in a loop —
// every other kill hits the one holding the settlement lease — and
// withdrawals to invoices the payer holds are in flight. Every invoice
// is credited exactly once, every page turns paid on its replica (once
// that replica is back, at the latest), every payout is paid once, and
// the ledger holds its invariants and agrees with lnd.
func TestChaosReplicas(t *testing.T) {
	if os.Getenv("DATABASE_URL") == "" {
		t.Skip("DATABASE_URL is not set: replicas need PostgreSQL")
	}
	e := newEnv(t, db.Postgres)
	ctx := testCtx(t, 6*time.Minute)
	began := time.Now()

	replicas := make([]*site, 3)
	for i := range replicas {
		replicas[i] = e.startSite(fmt.Sprintf("DATABASE_URL=%s&application_name=replica-%d", e.dbURL, i))
	}
	earnedSlug, earnedKey, earnedID := replicas[0].fundEarned(ctx, 100_000_000)
	var slugs []string
	for i := range 5 {
		slug, _, _ := replicas[i%3].createOffering(slowBurn)
		slugs = append(slugs, slug)
	}

	// The donors: each donation is created on replica i%3, its page is
	// watched there, and it is paid once the page listens.
	type donation struct {
		replica int
		hash    string
		amount  money.Msat
		paid    time.Time // the payer's payment succeeded
		seen    time.Time // the page on its replica said "paid"
		err     error     // creating or paying it failed
		pageErr error     // its page never said "paid"
	}
	donations := make([]*donation, chaosDonations)
	var (
		watch sync.WaitGroup
		work  sync.WaitGroup
	)
	stream := &http.Client{} // event streams: no overall timeout
	// give makes donation i on its replica, watches its page there and
	// pays it; the page's watcher records when it said "paid".
	give := func(i int) *donation {
		d := &donation{replica: i % 3, amount: money.Msat(1_000_000 + 1_000*int64(i))}
		donations[i] = d
		s := replicas[d.replica]
		var inv invoiceCreated
		err := retry(ctx, func() error {
			r, err := s.tryCall(http.MethodPost, "/api/v1/offerings/"+slugs[i%len(slugs)]+"/donations", "",
				map[string]any{"amount_msat": d.amount})
			if err != nil {
				return err
			}
			if r.Status != http.StatusCreated {
				return fmt.Errorf("donate: %s", r)
			}
			return json.Unmarshal(r.Body, &inv)
		})
		if err != nil {
			d.err = err
			return d
		}
		d.hash = inv.PaymentHash
		listening := make(chan struct{})
		watch.Add(1)
		go func() {
			defer watch.Done()
			t0, err := watchUntilPaid(ctx, stream, s.base+"/invoices/"+d.hash+"/events", listening)
			d.seen, d.pageErr = t0, err
		}()
		select {
		case <-listening:
		case <-time.After(5 * time.Second): // its replica is down: pay anyway
		}
		// lnd is never killed: a payment is made once.
		if d.paid, err = e.payTimed(ctx, inv.PaymentRequest); err != nil {
			d.err = fmt.Errorf("pay: %w", err)
		}
		return d
	}

	// First a few in calm, one at a time: a page says paid within
	// milliseconds on any replica, whichever replica credited it (the
	// notice, not the 5 s re-check, brings it).
	const calmDonations = 30
	var calm []time.Duration
	for i := range calmDonations {
		d := give(i)
		if d.err != nil {
			t.Fatalf("calm donation %d: %v", i, d.err)
		}
		watch.Wait()
		if d.pageErr != nil {
			t.Fatalf("calm donation %d: %v", i, d.pageErr)
		}
		calm = append(calm, max(0, d.seen.Sub(d.paid)))
	}
	slices.Sort(calm)
	t.Logf("in calm, payment succeeded → page says paid (3 replicas): p50 %v, p90 %v, max %v",
		pct(calm, 50), pct(calm, 90), calm[len(calm)-1])
	if p50 := pct(calm, 50); p50 > 1500*time.Millisecond {
		t.Errorf("in calm, pages turn paid after %v (median): the cross-replica notice does not arrive", p50)
	}

	// Then the rest, 12 at a time, while replicas die.
	var next atomic.Int64
	next.Store(calmDonations)
	for range 12 {
		work.Add(1)
		go func() {
			defer work.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= chaosDonations || ctx.Err() != nil {
					return
				}
				give(i)
			}
		}()
	}
	paymentsDone := make(chan struct{})
	go func() { work.Wait(); close(paymentsDone) }()

	// The chaos: a kill every ~2 s, every other one the settlement lease's
	// holder; a withdrawal to a held invoice after every restart.
	var (
		holds     []holdInvoice
		failovers []time.Duration
		kills     int
	)
	settleAccepted := func() {
		for _, h := range holds {
			if st := e.payerInvoiceState(ctx, h.hash).State; st == lnrpc.Invoice_ACCEPTED {
				if _, err := e.payerInvoices.SettleInvoice(ctx, &invoicesrpc.SettleInvoiceMsg{Preimage: h.preimage}); err != nil {
					t.Fatalf("settle held invoice: %v", err)
				}
			}
		}
	}
	for kills < 6 || !closed(paymentsDone) {
		select {
		case <-ctx.Done():
			t.Fatal("the chaos test ran out of time")
		case <-time.After(1500 * time.Millisecond):
		}
		victim, holder := kills%3, e.leaseHolder(ctx, "settlement")
		if kills%2 == 1 && holder >= 0 {
			victim = holder
		}
		killed := time.Now()
		replicas[victim].kill()
		kills++
		if victim == holder {
			// Failover: another replica holds the lease within seconds.
			for {
				if h := e.leaseHolder(ctx, "settlement"); h >= 0 && h != victim {
					failovers = append(failovers, time.Since(killed))
					break
				}
				if time.Since(killed) > 30*time.Second {
					t.Fatalf("no replica took the settlement lease over within 30 s of killing replica %d", victim)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		time.Sleep(300 * time.Millisecond)
		replicas[victim].start()
		settleAccepted()
		if len(holds) < 6 {
			h := e.addHoldInvoice(ctx, 5_000_000)
			via := replicas[(victim+1)%3]
			if r := via.withdraw(earnedSlug, earnedKey, h.bolt11); r.Status != http.StatusAccepted {
				t.Fatalf("withdraw through replica %d: %s", (victim+1)%3, r)
			}
			holds = append(holds, h)
		}
	}
	t.Logf("%d kills; payments done after %v", kills, time.Since(began).Round(time.Millisecond))

	// Every replica is up: every page turns paid, every payout finishes.
	for _, s := range replicas {
		if !s.running() {
			s.start()
		}
	}
	eventually(t, 60*time.Second, "every held payout to reach the payer", func() bool {
		settleAccepted()
		for _, h := range holds {
			if e.payerInvoiceState(ctx, h.hash).State != lnrpc.Invoice_SETTLED {
				return false
			}
		}
		return true
	})
	eventually(t, 60*time.Second, "no payout pending", func() bool {
		return !slices.ContainsFunc(e.payouts(), func(p funding.Payout) bool { return p.State == funding.PayoutPending })
	})
	pagesDone := make(chan struct{})
	go func() { watch.Wait(); close(pagesDone) }()
	select {
	case <-pagesDone:
	case <-time.After(60 * time.Second):
		t.Fatal("some invoice pages never turned paid")
	}

	// Credited exactly once, and as lnd says.
	var lat []time.Duration
	var donated money.Msat
	for i, d := range donations {
		if d == nil || d.err != nil || d.pageErr != nil {
			t.Errorf("donation %d: %+v", i, d)
			continue
		}
		if n := e.transfers("invoice:" + d.hash); n != 1 {
			t.Errorf("invoice %s credited %d times", d.hash, n)
		}
		var inv funding.Invoice
		if err := e.db.Gorm(ctx).Where("payment_hash = ?", d.hash).First(&inv).Error; err != nil || inv.State != funding.InvoiceSettled || inv.PaidMsat != d.amount {
			t.Errorf("invoice %s: %+v, %v; want settled, paid %d", d.hash, inv, err, d.amount)
		}
		h, _ := hex.DecodeString(d.hash)
		ln, err := e.site.LookupInvoice(ctx, &lnrpc.PaymentHash{RHash: h})
		if err != nil || ln.State != lnrpc.Invoice_SETTLED || money.Msat(ln.AmtPaidMsat) != inv.PaidMsat {
			t.Errorf("lnd's invoice %s: %v, %v; the site credited %d", d.hash, ln.GetState(), err, inv.PaidMsat)
		}
		donated += d.amount
		if i >= calmDonations {
			lat = append(lat, max(0, d.seen.Sub(d.paid)))
		}
	}
	var earnedCredits int64
	if err := e.db.Gorm(ctx).Model(&funding.Invoice{}).Where("state = ?", funding.InvoiceSettled).Count(&earnedCredits).Error; err != nil {
		t.Fatal(err)
	}
	if earnedCredits != chaosDonations+1 { // and the one fundEarned made
		t.Errorf("%d settled invoices, want %d", earnedCredits, chaosDonations+1)
	}

	// Payouts: each paid once, as lnd says.
	lndPayments, err := e.site.ListPayments(ctx, &lnrpc.ListPaymentsRequest{IncludeIncomplete: true, MaxPayments: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	byHash := map[string][]*lnrpc.Payment{}
	for _, p := range lndPayments.Payments {
		byHash[p.PaymentHash] = append(byHash[p.PaymentHash], p)
	}
	var paidOut, fees money.Msat
	payouts := e.payouts()
	if len(payouts) != len(holds) {
		t.Errorf("%d payouts, want %d", len(payouts), len(holds))
	}
	for _, p := range payouts {
		lp := byHash[p.PaymentHash]
		if p.State != funding.PayoutSucceeded || len(lp) != 1 || lp[0].Status != lnrpc.Payment_SUCCEEDED ||
			money.Msat(lp[0].ValueMsat) != p.AmountMsat || money.Msat(lp[0].FeeMsat) != p.FeeMsat {
			t.Errorf("payout %s is %s; lnd has %d payments for it: %v", p.PaymentHash, p.State, len(lp), lp)
		}
		if n := e.transfers("payout:" + p.PaymentHash + ":sent"); n != 1 {
			t.Errorf("%d postings of payout %s, want 1", n, p.PaymentHash)
		}
		paidOut += p.AmountMsat
		fees += p.FeeMsat
	}
	if got, want := e.account(ledger.Lightning).Balance(), paidOut-donated-100_000_000; got != want {
		t.Errorf("lightning account %d, want paid out − paid in = %d", got, want)
	}
	if got := e.account(ledger.OfferingEarned(earnedID)).Balance(); got != 100_000_000-paidOut-fees {
		t.Errorf("earned %d, want %d", got, 100_000_000-paidOut-fees)
	}
	e.checkInvariants()

	slices.Sort(lat)
	slices.Sort(failovers)
	t.Logf("%d donations over 3 replicas, %d kills (%d of the lease holder), %d payouts, in %v",
		len(donations), kills, len(failovers), len(payouts), time.Since(began).Round(time.Millisecond))
	t.Logf("amid the kills, payment succeeded → page on its replica says paid: p50 %v, p99 %v, max %v",
		pct(lat, 50), pct(lat, 99), lat[len(lat)-1])
	if len(failovers) > 0 {
		t.Logf("settlement lease taken over after a SIGKILL: median %v, max %v", failovers[len(failovers)/2], failovers[len(failovers)-1])
	}
}

// leaseHolder returns which replica (by its application_name) holds the
// lease called name, or -1.
func (e *env) leaseHolder(ctx context.Context, name string) int {
	e.t.Helper()
	var app string
	err := e.db.Gorm(ctx).Raw(`WITH k AS (SELECT hashtextextended('keepalive:' || current_schema() || ':' || ?, 0) AS v)
		SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid, k
		WHERE l.locktype = 'advisory' AND l.granted
		AND l.classid::bigint = (k.v >> 32) & 4294967295 AND l.objid::bigint = k.v & 4294967295`, name).Scan(&app).Error
	if err != nil {
		e.t.Fatalf("lease holder: %v", err)
	}
	var i int
	if _, err := fmt.Sscanf(app, "replica-%d", &i); err != nil {
		return -1
	}
	return i
}

// watchUntilPaid follows an invoice page's event stream, reconnecting
// (to the same replica) whenever it breaks, until it says "paid"; it
// closes listening once the first stream is open.
func watchUntilPaid(ctx context.Context, c *http.Client, url string, listening chan struct{}) (time.Time, error) {
	var once sync.Once
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return time.Time{}, err
		}
		req.Header.Set("Accept", "text/event-stream")
		resp, err := c.Do(req)
		if err == nil {
			if resp.StatusCode == http.StatusOK {
				once.Do(func() { close(listening) })
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					switch strings.TrimSpace(sc.Text()) {
					case "event: paid":
						resp.Body.Close()
						return time.Now(), nil
					case "event: expired":
						resp.Body.Close()
						return time.Time{}, fmt.Errorf("%s: expired", url)
					}
				}
			}
			resp.Body.Close()
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s: never paid: %w", url, ctx.Err())
		case <-time.After(200 * time.Millisecond): // the replica is down: ask again
		}
	}
}

// retry calls fn until it succeeds, for at most 30 s.
func retry(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
