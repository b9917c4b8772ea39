package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// TestOwnerModeratesBids: the dashboard lists the displays of bids for
// coming periods, without amounts (sealed), with a reject form that needs
// the owner's session, CSRF and a reason; the sponsor is refunded in full
// and sees the reason.
func TestOwnerModeratesBids(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _ := newSponsorSite(t, d)
		_, key := createOffering(t, s, createBody)
		s.sponsorTerms(t, key)
		good := s.placeBid(t, 7321, "Alpha")
		spam := s.placeBid(t, 4567, "Casino")

		owner := newBrowser(t, s)
		if st, _, _ := owner.post("/signin", "/signin", url.Values{"manage_key": {key}}); st != http.StatusSeeOther {
			t.Fatalf("sign in: %d", st)
		}
		_, page, _ := owner.get("/dashboard")
		if !strings.Contains(page, `data-testid="sponsor-bids"`) || strings.Count(page, `data-testid="owner-bid"`) != 2 ||
			!strings.Contains(page, "https://casino.example") || !strings.Contains(page, "paid") {
			t.Fatalf("dashboard lacks the bids:\n%s", page)
		}
		for _, sealed := range []string{"7,321", "7321", "4,567", "4567"} {
			if strings.Contains(page, sealed) {
				t.Fatalf("the dashboard shows a sealed amount %s", sealed)
			}
		}
		action := "/offerings/my-site/bids/" + spam.BidID + "/reject"
		if !strings.Contains(page, `action="`+action+`"`) {
			t.Fatalf("no reject form for %s", spam.BidID)
		}

		// Refused: no reason, someone not signed in, no CSRF token, a bid
		// of another offering. Nothing is written.
		before := s.sponsorCounts(t)
		if st, page, _ := owner.post("/dashboard", action, url.Values{"reason": {"  "}}); st != http.StatusUnprocessableEntity || !strings.Contains(page, `data-testid="sponsor-bids-error"`) {
			t.Fatalf("no reason: %d", st)
		}
		if st, _, _ := newBrowser(t, s).post("/signin", action, url.Values{"reason": {"spam"}}); st != http.StatusForbidden {
			t.Fatalf("stranger: %d", st)
		}
		if st, _, _ := s.do(t, "POST", action, "reason=spam"); st != http.StatusForbidden {
			t.Fatalf("no CSRF: %d", st)
		}
		if st, _, _ := owner.post("/dashboard", "/offerings/my-site/bids/nosuchbid/reject", url.Values{"reason": {"spam"}}); st != http.StatusNotFound {
			t.Fatalf("unknown bid: %d", st)
		}
		if after := s.sponsorCounts(t); after != before {
			t.Fatalf("refused rejections wrote: %s → %s", before, after)
		}

		st, _, hdr := owner.post("/dashboard", action, url.Values{"reason": {"Gambling ads are not welcome here."}})
		if st != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/dashboard") {
			t.Fatalf("reject: %d %v", st, hdr)
		}
		_, page, _ = owner.get("/dashboard")
		if !strings.Contains(page, `data-bid="`+spam.BidID+`" data-state="rejected"`) || strings.Contains(page, `action="`+action+`"`) ||
			!strings.Contains(page, "Gambling ads are not welcome here.") {
			t.Fatalf("dashboard after rejecting:\n%s", page)
		}
		// The sponsor sees the reason and the whole bid refundable.
		_, page, _ = newBrowser(t, s).post("/sponsor", "/sponsor", url.Values{"claim_key": {spam.ClaimKey}})
		if !strings.Contains(page, "Gambling ads are not welcome here.") || !strings.Contains(page, "4,567 sats") {
			t.Fatalf("sponsor's page:\n%s", page)
		}
		_, body, _ := s.do(t, "GET", "/api/v1/bids/"+spam.BidID, "", "Authorization", "Bearer "+spam.ClaimKey)
		if !strings.Contains(body, `"state":"rejected"`) || !strings.Contains(body, `"refund_payable_msat":4567000`) {
			t.Fatalf("rejected bid: %s", body)
		}
		// Once the period starts, its bids leave the list.
		_, body, _ = s.do(t, "GET", "/api/v1/bids/"+good.BidID, "", "Authorization", "Bearer "+good.ClaimKey)
		if !strings.Contains(body, `"state":"active"`) {
			t.Fatalf("good bid: %s", body)
		}
		s.clock.Advance(5 * 24 * time.Hour)
		if _, page, _ = owner.get("/dashboard"); strings.Contains(page, `data-testid="owner-bid"`) {
			t.Fatal("bids of a started period still listed for moderation")
		}
		s.checkLedger(t)
	})
}
