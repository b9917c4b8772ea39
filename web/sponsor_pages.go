package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/sponsor"
	"github.com/keepalive/keepalive/templates"
)

func (s *Server) sponsorPages(e *echo.Echo, invoiceLimit echo.MiddlewareFunc) {
	e.GET("/sponsors", s.sponsorsDirectory)
	e.GET("/o/:slug/sponsor", s.sponsorBidForm)
	e.POST("/o/:slug/sponsor", s.sponsorPlaceBid, invoiceLimit)
	e.GET("/sponsor", s.sponsorOwnPage)
	e.POST("/sponsor", s.sponsorOwnPage)
	e.POST("/sponsor/refund", s.sponsorRefund)
	e.POST("/sponsor/lnurl-withdraw", s.sponsorRefundLink)
	e.POST("/sponsor/withdraw", s.sponsorWithdrawBid)
	e.GET("/offerings/:slug/sponsorship", s.sponsorSettingsForm)
	e.POST("/offerings/:slug/sponsorship", s.sponsorSaveSettings)
	e.POST("/offerings/:slug/bids/:id/reject", s.ownerRejectBid)
}

// sponsorsBox is what an offering page shows of its sponsors; nothing
// when sponsorship is not wired.
func (s *Server) sponsorsBox(ctx context.Context, o offering.Offering) (templates.SponsorsBox, error) {
	if s.Sponsors == nil {
		return templates.SponsorsBox{}, nil
	}
	st, err := s.Sponsors.Settings(ctx, o.ID)
	if err != nil {
		return templates.SponsorsBox{}, err
	}
	shown, err := s.Sponsors.Showing(ctx, o.ID)
	if err != nil {
		return templates.SponsorsBox{}, err
	}
	return templates.SponsorsBox{Enabled: st.Enabled, Slug: o.Slug, Slots: sponsorSlots(shown, nil)}, nil
}

// widgetSponsors is the widget's sponsor line.
func (s *Server) widgetSponsors(ctx context.Context, o offering.Offering) ([]templates.SponsorSlot, error) {
	if s.Sponsors == nil {
		return nil, nil
	}
	shown, err := s.Sponsors.Showing(ctx, o.ID)
	return sponsorSlots(shown, nil), err
}

func sponsorSlots(shown []sponsor.Shown, slugs map[int64]string) []templates.SponsorSlot {
	out := make([]templates.SponsorSlot, len(shown))
	for i, w := range shown {
		out[i] = templates.SponsorSlot{Slot: w.Slot, Name: w.Display.Name, URL: w.Display.URL, Tagline: w.Display.Tagline,
			Weight: w.Weight, Offering: slugs[w.OfferingID], Until: periodText(w.Start, w.End)}
	}
	return out
}

func periodText(start, end time.Time) string {
	const layout = "Mon 2 Jan 15:04"
	return start.UTC().Format(layout) + " – " + end.UTC().Format(layout) + " UTC"
}

func (s *Server) sponsorsDirectory(c echo.Context) error {
	ctx := c.Request().Context()
	current, err := s.Sponsors.Showing(ctx, 0)
	if err != nil {
		return err
	}
	past, err := s.Sponsors.PastSponsors(ctx, 100)
	if err != nil {
		return err
	}
	slugs := map[int64]string{}
	for _, w := range append(append([]sponsor.Shown(nil), current...), past...) {
		if _, ok := slugs[w.OfferingID]; ok {
			continue
		}
		o, err := s.Offerings.GetByID(ctx, w.OfferingID)
		if err != nil {
			return err
		}
		slugs[w.OfferingID] = o.Slug
	}
	return s.render(c, http.StatusOK, templates.SponsorsList(templates.SponsorsDirectory{Page: s.page(c, "Sponsors"),
		Current: sponsorSlots(current, slugs), Past: sponsorSlots(past, slugs)}))
}

func (s *Server) sponsorBidView(c echo.Context, o offering.Offering) (templates.SponsorBidForm, error) {
	ctx := c.Request().Context()
	v := templates.SponsorBidForm{Page: s.page(c, "Sponsor "+o.Name), Slug: o.Slug, OfferingName: o.Name}
	st, err := s.Sponsors.Settings(ctx, o.ID)
	if err != nil {
		return v, err
	}
	open, err := s.Sponsors.OpenPeriods(ctx, st)
	if err != nil {
		return v, err
	}
	weights := make([]string, len(st.Weights))
	for i, w := range st.Weights {
		weights[i] = fmt.Sprintf("%d%%", w/100)
	}
	v.Terms = fmt.Sprintf("%d slot(s) a %s; reserve %s; slot weights %s.", st.Slots, st.Period, st.Reserve, strings.Join(weights, " / "))
	for _, p := range open {
		label := fmt.Sprintf("From %s UTC · %d bids", p.Start.UTC().Format("Mon 2 Jan 15:04"), p.Bids)
		if p.Fixed { // its first bid fixed its rules: they may not be the terms above
			label += fmt.Sprintf(" · its own terms: until %s UTC, %d slot(s), reserve %s", p.End.UTC().Format("Mon 2 Jan 15:04"), p.Slots, p.Reserve)
		}
		v.Periods = append(v.Periods, templates.SponsorPeriod{Start: sponsor.FormatStart(p.Start), Label: label})
	}
	return v, nil
}

func (s *Server) sponsorBidForm(c echo.Context) error {
	o, err := s.Offerings.Get(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	v, err := s.sponsorBidView(c, o)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, templates.SponsorBid(v))
}

func (s *Server) sponsorPlaceBid(c echo.Context) error {
	ctx := c.Request().Context()
	o, err := s.Offerings.Get(ctx, c.Param("slug"))
	if err != nil {
		return err
	}
	v, err := s.sponsorBidView(c, o)
	if err != nil {
		return err
	}
	v.Period.Value, v.Amount.Value = c.FormValue("period"), strings.TrimSpace(c.FormValue("amount"))
	v.Name.Value, v.URL.Value, v.Tagline.Value = c.FormValue("name"), c.FormValue("url"), c.FormValue("tagline")
	amount, perr := money.Parse(v.Amount.Value)
	if perr != nil {
		v.Amount.Error = "Give your bid in sats."
		return s.render(c, http.StatusUnprocessableEntity, templates.SponsorBid(v))
	}
	p, err := s.Sponsors.PlaceBid(ctx, sponsor.BidRequest{Slug: o.Slug, Start: v.Period.Value, Amount: amount,
		Display: sponsor.Display{Name: v.Name.Value, URL: v.URL.Value, Tagline: v.Tagline.Value}})
	if err != nil {
		fields := apperr.FieldsOf(err)
		if fields == nil && apperr.CodeOf(err) == apperr.Internal {
			return err
		}
		v.Amount.Error, v.Name.Error, v.URL.Error, v.Tagline.Error = fields["amount_msat"], fields["name"], fields["url"], fields["tagline"]
		if fields == nil {
			v.Error = apperr.MessageOf(err)
		}
		return s.render(c, http.StatusUnprocessableEntity, templates.SponsorBid(v))
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.render(c, http.StatusCreated, templates.SponsorBidPlaced(templates.SponsorPlaced{Page: s.page(c, "Your bid"),
		Slug: o.Slug, OfferingName: o.Name, BidID: p.Bid.PublicID, ClaimKey: p.ClaimKey, InvoicePath: "/invoices/" + p.Invoice.PaymentHash,
		AmountText: amount.String(), PeriodText: periodText(p.Bid.PeriodStart, p.Bid.PeriodEnd)}))
}

// sponsorOwnPage shows every bid under the claim key posted (GET shows
// the form: keys never travel in URLs).
func (s *Server) sponsorOwnPage(c echo.Context) error {
	return s.renderSponsorOwn(c, strings.TrimSpace(c.FormValue("claim_key")), "", "")
}

func (s *Server) renderSponsorOwn(c echo.Context, key, notice, problem string) error {
	v, status, err := s.sponsorOwnView(c, key, notice, problem)
	if err != nil {
		return err
	}
	return s.render(c, status, templates.SponsorOwn(v))
}

// sponsorOwnView is the sponsor's page for the claim key: the key form
// alone without one (or with a wrong one, and 401).
func (s *Server) sponsorOwnView(c echo.Context, key, notice, problem string) (templates.SponsorPage, int, error) {
	ctx := c.Request().Context()
	c.Response().Header().Set("Cache-Control", "no-store")
	v := templates.SponsorPage{Page: s.page(c, "Your sponsor bids"), Notice: notice, Error: problem}
	if key == "" || c.Request().Method == http.MethodGet {
		return v, http.StatusOK, nil
	}
	bids, err := s.Sponsors.BidsOf(ctx, key)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Internal {
			return v, 0, err
		}
		v.Error = apperr.MessageOf(err)
		return v, http.StatusUnauthorized, nil
	}
	v.ClaimKey = key
	now := s.Sponsors.Now()
	for _, b := range bids {
		bv, err := s.Sponsors.View(ctx, b)
		if err != nil {
			return v, 0, err
		}
		row := templates.SponsorBidRow{ID: b.PublicID, Offering: bv.Slug, OfferingName: bv.OfferingName,
			Period: periodText(b.PeriodStart, b.PeriodEnd), State: bidStateText(b), StateClass: string(b.State),
			AmountText: b.Amount.String(), RefundText: bv.RefundPayable.String(),
			CanWithdraw: b.Open() && now.Before(b.PeriodStart), CanRefund: funding.MaxPayable(bv.RefundPayable) >= money.MsatPerSat,
			RejectReason: b.RejectReason, DisplayName: b.DisplayName, DisplayURL: b.DisplayURL}
		if b.State == sponsor.BidWon {
			row.ChargeNote = "; charged " + b.Charge.String()
		}
		for _, p := range bv.Withdrawals {
			row.Withdrawals = append(row.Withdrawals, fmt.Sprintf("%s to %s: %s", p.AmountMsat, p.Destination, p.State))
		}
		v.Bids = append(v.Bids, row)
	}
	return v, http.StatusOK, nil
}

// sponsorRefundLink shows the sponsor's page with a one-time
// LNURL-withdraw QR for one bid's refund.
func (s *Server) sponsorRefundLink(c echo.Context) error {
	key, id := strings.TrimSpace(c.FormValue("claim_key")), c.FormValue("bid")
	k1, _, err := s.Sponsors.RefundLink(c.Request().Context(), id, key)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Internal {
			return err
		}
		return s.renderSponsorOwn(c, key, "", apperr.MessageOf(err))
	}
	v, status, err := s.sponsorOwnView(c, key, "", "")
	if err != nil {
		return err
	}
	code, _ := s.withdrawLinkCode(k1)
	for i := range v.Bids {
		if v.Bids[i].ID == id {
			v.Bids[i].LNURL, v.Bids[i].LNURLQR = code, s.qr.svg("lightning:"+code, 240)
		}
	}
	return s.render(c, status, templates.SponsorOwn(v))
}

func bidStateText(b sponsor.Bid) string {
	switch b.State {
	case sponsor.BidWon:
		if b.Slot != nil {
			return fmt.Sprintf("won slot %d", *b.Slot)
		}
	case sponsor.BidPending:
		return "pending (not paid yet)"
	case sponsor.BidUnpaid:
		return "not paid before the period started"
	}
	return string(b.State)
}

func (s *Server) sponsorRefund(c echo.Context) error {
	key := strings.TrimSpace(c.FormValue("claim_key"))
	p, err := s.Sponsors.WithdrawRefund(c.Request().Context(), c.FormValue("bid"), key, c.FormValue("destination"))
	if err != nil {
		if apperr.CodeOf(err) == apperr.Internal {
			return err
		}
		msg := apperr.MessageOf(err)
		if f := apperr.FieldsOf(err); f["destination"] != "" {
			msg = f["destination"]
		}
		return s.renderSponsorOwn(c, key, "", msg)
	}
	return s.renderSponsorOwn(c, key, fmt.Sprintf("Sending %s to %s.", p.AmountMsat, p.Destination), "")
}

func (s *Server) sponsorWithdrawBid(c echo.Context) error {
	key := strings.TrimSpace(c.FormValue("claim_key"))
	if _, err := s.Sponsors.WithdrawBid(c.Request().Context(), c.FormValue("bid"), key); err != nil {
		if apperr.CodeOf(err) == apperr.Internal {
			return err
		}
		return s.renderSponsorOwn(c, key, "", apperr.MessageOf(err))
	}
	return s.renderSponsorOwn(c, key, "Bid withdrawn: its refund is below.", "")
}

func settingsForm(v *templates.SponsorSettingsForm, st sponsor.Settings) {
	v.Enabled = st.Enabled
	v.Slots.Value, v.Period.Value = strconv.Itoa(st.Slots), string(st.Period)
	v.Reserve.Value = strconv.FormatInt(st.Reserve.Sats(), 10)
	w := make([]string, len(st.Weights))
	for i, x := range st.Weights {
		w[i] = strconv.Itoa(x)
	}
	v.Weights.Value, v.OpenPeriods.Value = strings.Join(w, ","), strconv.Itoa(st.OpenPeriods)
}

func (s *Server) sponsorSettingsForm(c echo.Context) error {
	o, err := s.requireOwner(c)
	if err != nil {
		return err
	}
	st, err := s.Sponsors.Settings(c.Request().Context(), o.ID)
	if err != nil {
		return err
	}
	v := templates.SponsorSettingsForm{Page: s.page(c, "Sponsorship of "+o.Name), Slug: o.Slug, OfferingName: o.Name}
	settingsForm(&v, st)
	return s.render(c, http.StatusOK, templates.SponsorSettings(v))
}

func (s *Server) sponsorSaveSettings(c echo.Context) error {
	o, err := s.requireOwner(c)
	if err != nil {
		return err
	}
	v := templates.SponsorSettingsForm{Page: s.page(c, "Sponsorship of "+o.Name), Slug: o.Slug, OfferingName: o.Name}
	enabled := c.FormValue("enabled") == "on"
	v.Enabled = enabled
	v.Slots.Value, v.Period.Value, v.Reserve.Value = c.FormValue("slots"), c.FormValue("period"), c.FormValue("reserve")
	v.Weights.Value, v.OpenPeriods.Value = c.FormValue("weights"), c.FormValue("open_periods")
	in := sponsor.SettingsInput{Enabled: &enabled}
	bad := false
	if n, err := strconv.Atoi(strings.TrimSpace(v.Slots.Value)); err == nil {
		in.Slots = &n
	} else {
		v.Slots.Error, bad = "A whole number of slots.", true
	}
	p := sponsor.Period(v.Period.Value)
	in.Period = &p
	if r, err := money.Parse(v.Reserve.Value); err == nil {
		in.Reserve = &r
	} else {
		v.Reserve.Error, bad = "The reserve in sats.", true
	}
	for _, part := range strings.Split(v.Weights.Value, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			v.Weights.Error, bad = "Whole numbers separated by commas.", true
			break
		}
		in.Weights = append(in.Weights, w)
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v.OpenPeriods.Value)); err == nil {
		in.OpenPeriods = &n
	} else {
		v.OpenPeriods.Error, bad = "A whole number of periods.", true
	}
	if !bad {
		st, err := s.Sponsors.UpdateSettings(c.Request().Context(), o.ID, in)
		if err == nil {
			settingsForm(&v, st)
			v.Saved = true
			return s.render(c, http.StatusOK, templates.SponsorSettings(v))
		}
		f := apperr.FieldsOf(err)
		if f == nil {
			return err
		}
		v.Slots.Error, v.Period.Error, v.Reserve.Error, v.Weights.Error, v.OpenPeriods.Error =
			f["slots"], f["period"], f["reserve_msat"], f["weights_bps"], f["open_periods"]
	}
	return s.render(c, http.StatusUnprocessableEntity, templates.SponsorSettings(v))
}

// ownerBids lists the bids of an offering's coming periods for its owner
// to moderate: displays and states, never amounts.
func (s *Server) ownerBids(ctx context.Context, o offering.Offering) ([]templates.OwnerBidRow, error) {
	if s.Sponsors == nil {
		return nil, nil
	}
	bids, err := s.Sponsors.ForModeration(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	rows := make([]templates.OwnerBidRow, 0, len(bids))
	for _, b := range bids {
		row := templates.OwnerBidRow{ID: b.PublicID, Period: periodText(b.PeriodStart, b.PeriodEnd), Name: b.Display.Name,
			URL: b.Display.URL, Tagline: b.Display.Tagline, StateClass: string(b.State), RejectReason: b.RejectReason}
		switch b.State {
		case sponsor.BidActive:
			row.State = "paid"
		case sponsor.BidPending:
			row.State = "awaiting payment"
		default:
			row.State = string(b.State)
		}
		if b.State != sponsor.BidRejected {
			row.RejectAction = "/offerings/" + url.PathEscape(o.Slug) + "/bids/" + url.PathEscape(b.PublicID) + "/reject"
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// ownerRejectBid is the dashboard's reject form: what
// POST /api/v1/offerings/{slug}/bids/{id}/reject does, for a signed-in
// owner. A refused rejection shows the dashboard again with why.
func (s *Server) ownerRejectBid(c echo.Context) error {
	o, err := s.requireOwner(c)
	if err != nil {
		return err
	}
	if s.Sponsors == nil {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	_, err = s.Sponsors.Reject(c.Request().Context(), o.ID, c.Param("id"), c.FormValue("reason"))
	if err == nil {
		return c.Redirect(http.StatusSeeOther, "/dashboard#sponsor-bids-"+url.PathEscape(o.Slug))
	}
	if code := apperr.CodeOf(err); code == apperr.Internal || code == apperr.Unavailable {
		return err
	}
	v, verr := s.dashboardView(c)
	if verr != nil {
		return verr
	}
	msg := apperr.MessageOf(err)
	if f := apperr.FieldsOf(err); f["reason"] != "" {
		msg = f["reason"]
	}
	for i := range v.Items {
		if v.Items[i].Offering.Slug == o.Slug {
			v.Items[i].SponsorError = msg
		}
	}
	return s.render(c, statusOf(apperr.CodeOf(err)), templates.Dashboard(v))
}
