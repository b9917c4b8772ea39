package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
)

// TestWaitingRequestAcrossReplicas: GET /api/v1/invoices/{hash}?wait=N
// answers "settled" on every replica as soon as the payment is credited,
// whichever replica holds the settlement stream: the one that credits it
// answers from its own credit, the other hears of it by NOTIFY (both well
// before the 5 s re-read of the database). An unpaid invoice is answered
// "open" when the wait runs out.
func TestWaitingRequestAcrossReplicas(t *testing.T) {
	if os.Getenv("DATABASE_URL") == "" {
		t.Skip("DATABASE_URL is not set: replicas need PostgreSQL")
	}
	e := newEnv(t, db.Postgres)
	ctx := testCtx(t, 3*time.Minute)
	replicas := []*site{
		e.startSite(fmt.Sprintf("DATABASE_URL=%s&application_name=replica-0", e.dbURL)),
		e.startSite(fmt.Sprintf("DATABASE_URL=%s&application_name=replica-1", e.dbURL)),
	}
	slug, _, _ := replicas[0].createOffering(slowBurn)

	type answer struct {
		replica int
		status  int
		body    []byte
		at      time.Time
	}
	for round := range 3 {
		inv := replicas[round%2].donate(slug, 20_000, "")
		answers := make(chan answer, len(replicas))
		for i, r := range replicas {
			go func() {
				res, err := r.tryCall(http.MethodGet, "/api/v1/invoices/"+inv.PaymentHash+"?wait=30", "", nil)
				if err != nil {
					answers <- answer{replica: i, status: -1, body: []byte(err.Error())}
					return
				}
				answers <- answer{i, res.Status, res.Body, time.Now()}
			}()
		}
		time.Sleep(300 * time.Millisecond) // both requests are waiting
		select {
		case a := <-answers:
			t.Fatalf("replica %d answered before the payment: %d %s", a.replica, a.status, a.body)
		default:
		}
		e.pay(ctx, inv.PaymentRequest)
		paid := time.Now()
		for range replicas {
			a := <-answers
			if a.status != http.StatusOK || !bytes.Contains(a.body, []byte(`"state":"settled"`)) {
				t.Fatalf("round %d, replica %d: %d %s", round, a.replica, a.status, a.body)
			}
			if took := a.at.Sub(paid); took > 3*time.Second {
				t.Fatalf("round %d, replica %d answered %s after the payment succeeded: not by its event", round, a.replica, took)
			}
		}
	}

	open := replicas[1].donate(slug, 20_000, "")
	began := time.Now()
	r := replicas[0].call(http.MethodGet, "/api/v1/invoices/"+open.PaymentHash+"?wait=2", "", nil)
	if r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(`"state":"open"`)) || time.Since(began) < 2*time.Second {
		t.Fatalf("an unpaid invoice after wait=2: %d %s after %s", r.Status, r.Body, time.Since(began))
	}
}
