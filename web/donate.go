package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/notify"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/qrsvg"
	"github.com/keepalive/keepalive/templates"
)

// qrCache keeps the QR codes of offering pages (one per offering, the
// same until its slug or the site's URL change) so that they are drawn
// once, not on every view. Invoice QR codes pass through too; the cache
// is dropped whole when it grows past its bound.
type qrCache struct {
	mu sync.Mutex
	m  map[string]string
}

const qrCacheSize = 1024

func (q *qrCache) svg(text string, size int) string {
	key := strconv.Itoa(size) + " " + text
	q.mu.Lock()
	svg, ok := q.m[key]
	q.mu.Unlock()
	if ok {
		return svg
	}
	svg, err := qrsvg.SVG(text, size)
	if err != nil {
		return ""
	}
	q.mu.Lock()
	if q.m == nil || len(q.m) >= qrCacheSize {
		q.m = map[string]string{}
	}
	q.m[key] = svg
	q.mu.Unlock()
	return svg
}

// Presets run from a tip to something generous: a tip-sized amount, and
// a day, a week and a month of the offering's running cost, each rounded
// to a friendly number (1, 2 or 5 times a power of ten). What each buys
// is shown under it.
const (
	tipSats = 2_000
	// modestSats is the most the pre-selected preset asks for: the
	// largest preset up to it is the default, a few dollars' worth.
	modestSats = 10_000
	maxPresets = 4
)

var presetDays = []int64{1, 7, 30}

// donateForm builds the donation form for o.
func (s *Server) donateForm(o offering.Offering) templates.DonateForm {
	f := templates.DonateForm{Action: "/o/" + url.PathEscape(o.Slug) + "/donate",
		MinText: s.MinDonation.Display(), MaxText: s.MaxDonation.Display()}
	f.Name.Max, f.Message.Max = funding.PayerNameField.Max, funding.PayerMessageField.Max
	for _, sats := range presetSats(o.BurnRateMsatPerHour, s.MinDonation, s.MaxDonation) {
		amount := money.Msat(sats) * money.MsatPerSat
		f.Presets = append(f.Presets, templates.DonatePreset{Sats: sats, Label: amount.Display(), Buys: "≈ " + buys(o, amount), Fiat: s.Fiat.Approx(amount)})
	}
	f.Selected = "custom"
	for i, p := range f.Presets {
		if i == 0 || p.Sats <= modestSats {
			f.Selected = strconv.FormatInt(p.Sats, 10)
		}
	}
	return f
}

// presetSats are the preset amounts, ascending, for an offering that
// burns perHour, within [min, max].
func presetSats(perHour, min, max money.Msat) []int64 {
	targets := []int64{tipSats}
	for _, days := range presetDays {
		cost, err := money.MulDiv(perHour, 24*days, 1)
		if err == nil {
			targets = append(targets, int64(cost/money.MsatPerSat))
		}
	}
	var out []int64
	for _, t := range targets {
		sats := friendlySats(t)
		amount := money.Msat(sats) * money.MsatPerSat
		if sats <= 0 || slices.Contains(out, sats) || amount < min || amount > max || sats > money.MaxMsat.Sats() {
			continue
		}
		out = append(out, sats)
	}
	slices.Sort(out)
	if len(out) > maxPresets {
		out = out[:maxPresets]
	}
	return out
}

// friendlySats rounds n to the nearest of 1, 2 or 5 times a power of
// ten (on a log scale): 240,000 → 200,000; 1,680,000 → 2,000,000;
// 7,200,000 → 10,000,000; 3 → 2.
func friendlySats(n int64) int64 {
	if n < 1 {
		return 1
	}
	best := int64(1)
	for unit := int64(1); unit <= n*10 && unit < 1e17; unit *= 10 {
		for _, m := range []int64{1, 2, 5} {
			c := unit * m
			// Compare ratios: c/n against n/best, without floats.
			if ratio(c, n) < ratio(best, n) {
				best = c
			}
		}
	}
	return best
}

// ratio is how far apart a and b are, as max/min scaled by 1000.
func ratio(a, b int64) int64 {
	if a < b {
		a, b = b, a
	}
	return a/b*1000 + a%b*1000/b
}

// buys says how much runway amount buys at o's burn rate.
func buys(o offering.Offering, amount money.Msat) string {
	secs, err := money.MulDiv(amount, 3600, int64(o.BurnRateMsatPerHour))
	if err != nil {
		return "a long time of runway"
	}
	return humanDuration(time.Duration(secs)*time.Second) + " of runway"
}

// payFromWallet fills the Lightning Address and LNURL of o.
func (s *Server) payFromWallet(v *templates.OfferingView, o offering.Offering) {
	v.LightningAddress = o.Slug + "@" + s.host()
	code, err := lnurl.Encode(s.BaseURL + "/.well-known/lnurlp/" + url.PathEscape(o.Slug))
	if err != nil {
		return
	}
	v.LNURL = code
	v.LNURLQR = s.qr.svg("lightning:"+code, 220)
}

// donate is the offering page's form: it issues the invoice and sends the
// donor to the invoice page.
func (s *Server) donate(c echo.Context) error {
	ctx := c.Request().Context()
	o, fin, err := s.Offerings.View(ctx, c.Param("slug"))
	if err != nil {
		return err
	}
	form := s.donateForm(o)
	choice := c.FormValue("amount")
	form.Selected = choice
	form.Custom.Value = strings.TrimSpace(c.FormValue("custom_amount"))
	form.Name.Value = strings.TrimSpace(c.FormValue("name"))
	form.Message.Value = strings.TrimSpace(c.FormValue("message"))
	form.Public = c.FormValue("public") == "1"

	var amount money.Msat
	if choice == "custom" || choice == "" {
		if form.Custom.Value == "" {
			form.Custom.Error = "Say how many sats to give."
		} else if amount, err = money.ParseWholeSats(form.Custom.Value); err != nil {
			form.Custom.Error = apperr.MessageOf(err)
		}
	} else if sats, perr := strconv.ParseInt(choice, 10, 64); perr != nil || sats <= 0 {
		form.FormError = "Choose an amount."
	} else if amount, err = money.FromSats(sats); err != nil {
		form.FormError = apperr.MessageOf(err)
	}
	if form.Custom.Error == "" && form.FormError == "" {
		inv, err := s.Funding.Donate(ctx, funding.DonationRequest{
			Slug: o.Slug, Amount: amount, Name: form.Name.Value, Message: form.Message.Value, Public: form.Public, Via: "web",
		})
		if err == nil {
			return c.Redirect(http.StatusSeeOther, "/invoices/"+inv.PaymentHash)
		}
		fields := apperr.FieldsOf(err)
		if fields == nil {
			return err
		}
		for field, msg := range fields {
			switch field {
			case "amount_msat":
				form.Custom.Error = msg
				form.Selected = "custom"
				if form.Custom.Value == "" {
					form.Custom.Value = money.FormatSats(amount)
				}
			case "name":
				form.Name.Error = msg
			case "message":
				form.Message.Error = msg
			default:
				form.FormError = msg
			}
		}
	}
	v, err := s.offeringView(c, o, fin)
	if err != nil {
		return err
	}
	v.Donate = form
	return s.render(c, http.StatusUnprocessableEntity, templates.Offering(v))
}

// invoicePage shows an invoice to pay: QR, BOLT11, countdown, and the
// switch to paid.
func (s *Server) invoicePage(c echo.Context) error {
	ctx := c.Request().Context()
	inv, err := s.Funding.Invoice(ctx, c.Param("hash"))
	if err != nil {
		return err
	}
	o, err := s.Offerings.GetByID(ctx, inv.OfferingID)
	if err != nil {
		return err
	}
	st, err := s.Offerings.Status(ctx, o.Slug)
	if err != nil {
		return err
	}
	state := inv.StateAt(s.Funding.Now())
	v := templates.InvoiceView{
		Page: s.page(c, "Pay "+inv.AmountMsat.Display()), Offering: card(o, st),
		PaymentHash: inv.PaymentHash, PaymentRequest: inv.PaymentRequest, AmountText: inv.AmountMsat.Display(),
		State: string(state), ExpiresAt: inv.ExpiresAt, Now: s.Funding.Now(), LightningURI: "lightning:" + inv.PaymentRequest,
		EventsURL: "/invoices/" + inv.PaymentHash + "/events", OfferingURL: "/o/" + url.PathEscape(o.Slug),
	}
	if inv.Purpose == funding.PurposeDonation {
		v.WallText = wallText(inv)
		v.ShareURL = s.BaseURL + v.OfferingURL
	}
	switch state {
	case funding.InvoiceOpen:
		v.Page.RefreshSeconds = 5
		v.QR = s.qr.svg(strings.ToUpper(v.LightningURI), 320)
		if s.DemoPayer != nil {
			v.DemoPayAction = "/invoices/" + inv.PaymentHash + "/demo-pay"
		}
	case funding.InvoiceSettled:
		v.PaidText = paidText(o, st)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.render(c, http.StatusOK, templates.Invoice(v))
}

// wallText says how a donation shows on the donor wall.
func wallText(inv funding.Invoice) string {
	switch {
	case inv.Public && inv.PayerName != "":
		return "On the donor wall as “" + inv.PayerName + "”, with your message and the amount."
	case inv.Public:
		return "On the donor wall without a name, with your message and the amount."
	case inv.PayerName != "":
		// The invoice page is public to whoever has its link: the
		// private name is not repeated here either.
		return "Anonymous: the name you typed is kept private and not shown."
	}
	return "Anonymous: nothing about you is shown."
}

func paidText(o offering.Offering, st offering.Status) string {
	if st.Alive() {
		return fmt.Sprintf("Paid — thank you! %s is alive until %s.", o.Name, templates.FormatDate(st.FundedUntil))
	}
	return fmt.Sprintf("Paid — thank you! %s has been credited.", o.Name)
}

// demoPay is the invoice page's "pay it" button in demo mode.
func (s *Server) demoPay(c echo.Context) error {
	if err := s.demoSettle(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/invoices/"+c.Param("hash"))
}

// invoiceRecheck is how often an open invoice page's stream reads the
// invoice from the database, in case a settlement notice was lost.
var invoiceRecheck = 5 * time.Second

// invoiceEvents streams the invoice's fate to the invoice page (SSE):
// "paid" when it is credited, "expired" when it lapses.
func (s *Server) invoiceEvents(c echo.Context) error {
	ctx := c.Request().Context()
	release, err := s.waits.hold(c)
	if err != nil {
		return err
	}
	defer release()
	// Subscribe before reading the invoice: a settlement landing between
	// the two would otherwise never be pushed.
	settled, stop := s.Funding.Settlements()
	defer stop()
	inv, err := s.Funding.Invoice(ctx, c.Param("hash"))
	if err != nil {
		return err
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	w.Flush() // the client (and any proxy) knows at once that the stream is open

	// The server's write timeout is for ordinary requests; a stream
	// pushes its deadline on with every write.
	rc := http.NewResponseController(w.Writer)
	extend := func() { _ = rc.SetWriteDeadline(time.Now().Add(time.Minute)) }
	extend()
	send := func(name string) error {
		data, _ := json.Marshal(s.invoiceEventData(ctx, inv.PaymentHash))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data); err != nil {
			return err
		}
		w.Flush()
		return nil
	}
	keepalive := func() error {
		extend()
		if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
			return err
		}
		w.Flush()
		return nil
	}
	switch _, outcome := s.awaitPayment(ctx, inv, settled, time.Time{}, keepalive); outcome {
	case paymentPaid:
		return send("paid")
	case paymentLapsed:
		return send("expired")
	}
	return nil
}

// paymentOutcome is how a wait for an invoice's payment ended.
type paymentOutcome int

const (
	paymentPaid   paymentOutcome = iota // credited
	paymentLapsed                       // expired or canceled unpaid
	paymentOpen                         // still open: the wait ran out, or the client or the replica left
)

// awaitPayment waits until inv is credited or lapses, until deadline (the
// zero time: its expiry), or until the client leaves or the replica
// drains, and returns the invoice as it then stands. settled must have
// been subscribed before inv was read: a settlement landing between the
// two would otherwise be missed. idle, when given, runs every 25 s while
// nothing happens (an event stream's keepalive); its error ends the wait.
//
// Settlements are announced to every replica, but an announcement can be
// lost (a replica killed between commit and notice, a listener
// reconnecting): the database is asked now and then too, and once more
// when the wait runs out.
func (s *Server) awaitPayment(ctx context.Context, inv funding.Invoice, settled <-chan string, deadline time.Time, idle func() error) (funding.Invoice, paymentOutcome) {
	outcome := func() paymentOutcome {
		switch inv.StateAt(s.Funding.Now()) {
		case funding.InvoiceSettled:
			return paymentPaid
		case funding.InvoiceExpired, funding.InvoiceCanceled:
			return paymentLapsed
		}
		return paymentOpen
	}
	if o := outcome(); o != paymentOpen {
		return inv, o
	}
	lapses := deadline.IsZero() || !deadline.Before(inv.ExpiresAt)
	if lapses {
		deadline = inv.ExpiresAt
	}
	paid := func() bool {
		got, err := s.Funding.Invoice(ctx, inv.PaymentHash)
		if err != nil {
			return false
		}
		inv = got
		return got.State == funding.InvoiceSettled
	}
	end := time.NewTimer(deadline.Sub(s.Funding.Now()))
	defer end.Stop()
	recheck := time.NewTicker(invoiceRecheck)
	defer recheck.Stop()
	var quiet <-chan time.Time
	if idle != nil {
		t := time.NewTicker(25 * time.Second)
		defer t.Stop()
		quiet = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return inv, paymentOpen
		case <-s.draining:
			return inv, paymentOpen
		case hash := <-settled:
			if hash == inv.PaymentHash {
				if got, ok := s.Funding.CreditedHere(hash); ok {
					return got, paymentPaid // credited by this replica: as committed, not read back
				}
			}
			if (hash == inv.PaymentHash || hash == notify.Recheck) && paid() {
				return inv, paymentPaid
			}
		case <-recheck.C:
			if paid() {
				return inv, paymentPaid
			}
		case <-end.C:
			if paid() {
				return inv, paymentPaid
			}
			if lapses {
				return inv, paymentLapsed
			}
			return inv, paymentOpen
		case <-quiet:
			if idle() != nil {
				return inv, paymentOpen
			}
		}
	}
}

type invoiceEvent struct {
	State    string `json:"state"`
	PaidText string `json:"paid_text,omitempty"`
}

func (s *Server) invoiceEventData(ctx context.Context, hash string) invoiceEvent {
	inv, err := s.Funding.Invoice(ctx, hash)
	if err != nil {
		return invoiceEvent{State: "unknown"}
	}
	ev := invoiceEvent{State: string(inv.StateAt(s.Funding.Now()))}
	if inv.State == funding.InvoiceSettled {
		if o, err := s.Offerings.GetByID(ctx, inv.OfferingID); err == nil {
			if st, err := s.Offerings.Status(ctx, o.Slug); err == nil {
				ev.PaidText = paidText(o, st)
			}
		}
	}
	return ev
}
