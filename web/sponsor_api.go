package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/internal/sponsor"
)

// Sponsorship is what the web layer needs from sponsorship.
type Sponsorship interface {
	Settings(ctx context.Context, offeringID int64) (sponsor.Settings, error)
	UpdateSettings(ctx context.Context, offeringID int64, in sponsor.SettingsInput) (sponsor.Settings, error)
	OpenPeriods(ctx context.Context, st sponsor.Settings) ([]sponsor.OpenPeriod, error)
	PlaceBid(ctx context.Context, r sponsor.BidRequest) (sponsor.Placed, error)
	Authorize(ctx context.Context, publicID, claimKey string) (sponsor.Bid, error)
	Raise(ctx context.Context, publicID, claimKey string, total money.Msat) (funding.Invoice, error)
	EditDisplay(ctx context.Context, publicID, claimKey string, d sponsor.Display) (sponsor.Bid, error)
	WithdrawBid(ctx context.Context, publicID, claimKey string) (sponsor.Bid, error)
	Reject(ctx context.Context, offeringID int64, publicID, reason string) (sponsor.Bid, error)
	ForModeration(ctx context.Context, offeringID int64) ([]sponsor.Moderated, error)
	WithdrawRefund(ctx context.Context, publicID, claimKey, destination string) (funding.Payout, error)
	RefundLink(ctx context.Context, publicID, claimKey string) (string, time.Time, error)
	View(ctx context.Context, b sponsor.Bid) (sponsor.BidView, error)
	BidsOf(ctx context.Context, claimKey string) ([]sponsor.Bid, error)
	PeriodRecord(ctx context.Context, o offering.Offering, name string) (sponsor.Record, error)
	Showing(ctx context.Context, offeringID int64) ([]sponsor.Shown, error)
	PastSponsors(ctx context.Context, limit int) ([]sponsor.Shown, error)
	Now() time.Time
}

var _ Sponsorship = (*sponsor.Service)(nil)

// sponsorRoutes registers sponsorship's pages and API; nothing when the
// server has no sponsorship service.
func (s *Server) sponsorRoutes(e *echo.Echo, api *echo.Group, invoiceLimit echo.MiddlewareFunc) {
	if s.Sponsors == nil {
		return
	}
	api.GET("/offerings/:slug/sponsorship", s.apiSponsorship)
	api.PUT("/offerings/:slug/sponsorship", s.apiPutSponsorship)
	api.POST("/offerings/:slug/periods/:start/bids", s.apiPlaceBid, invoiceLimit)
	api.GET("/offerings/:slug/periods/:start", s.apiPeriodRecord)
	api.POST("/offerings/:slug/bids/:id/reject", s.apiRejectBid)
	api.GET("/bids/:id", s.apiBid)
	api.POST("/bids/:id/raise", s.apiRaiseBid, invoiceLimit)
	api.PUT("/bids/:id/display", s.apiEditBidDisplay)
	api.POST("/bids/:id/withdraw", s.apiWithdrawBid)
	api.POST("/bids/:id/withdrawals", s.apiBidRefund)
	api.POST("/bids/:id/lnurl-withdraw", s.apiBidRefundLink)
	s.sponsorPages(e, invoiceLimit)
}

// periodJSON is an open period with its own rules: fixed by its first
// bid, so they may differ from the settings beside them.
type periodJSON struct {
	Start       string     `json:"start"`
	End         string     `json:"end"`
	Bids        int        `json:"bids"`
	Slots       int        `json:"slots"`
	WeightsBps  []int      `json:"weights_bps"`
	ReserveMsat money.Msat `json:"reserve_msat"`
	Fixed       bool       `json:"fixed"`
}

type sponsorshipJSON struct {
	Enabled     bool         `json:"enabled"`
	Slots       int          `json:"slots"`
	Period      string       `json:"period"`
	ReserveMsat money.Msat   `json:"reserve_msat"`
	WeightsBps  []int        `json:"weights_bps"`
	OpenPeriods int          `json:"open_periods"`
	Periods     []periodJSON `json:"periods"`
}

func (s *Server) sponsorshipJSON(ctx context.Context, st sponsor.Settings) (sponsorshipJSON, error) {
	open, err := s.Sponsors.OpenPeriods(ctx, st)
	if err != nil {
		return sponsorshipJSON{}, err
	}
	out := sponsorshipJSON{Enabled: st.Enabled, Slots: st.Slots, Period: string(st.Period), ReserveMsat: st.Reserve,
		WeightsBps: st.Weights, OpenPeriods: st.OpenPeriods, Periods: make([]periodJSON, len(open))}
	for i, p := range open {
		out.Periods[i] = periodJSON{Start: sponsor.FormatStart(p.Start), End: sponsor.FormatStart(p.End), Bids: p.Bids,
			Slots: p.Slots, WeightsBps: p.Weights, ReserveMsat: p.Reserve, Fixed: p.Fixed}
	}
	return out, nil
}

func (s *Server) apiSponsorship(c echo.Context) error {
	ctx := c.Request().Context()
	o, err := s.Offerings.Get(ctx, c.Param("slug"))
	if err != nil {
		return err
	}
	st, err := s.Sponsors.Settings(ctx, o.ID)
	if err != nil {
		return err
	}
	out, err := s.sponsorshipJSON(ctx, st)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

type sponsorshipRequest struct {
	Enabled     *bool           `json:"enabled"`
	Slots       *int            `json:"slots"`
	Period      *sponsor.Period `json:"period"`
	ReserveMsat *money.Msat     `json:"reserve_msat"`
	WeightsBps  []int           `json:"weights_bps"`
	OpenPeriods *int            `json:"open_periods"`
}

func (s *Server) apiPutSponsorship(c echo.Context) error {
	ctx := c.Request().Context()
	o, err := s.bearerOwner(c, c.Param("slug"))
	if err != nil {
		return err
	}
	var req sponsorshipRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	st, err := s.Sponsors.UpdateSettings(ctx, o.ID, sponsor.SettingsInput{Enabled: req.Enabled, Slots: req.Slots, Period: req.Period,
		Reserve: req.ReserveMsat, Weights: req.WeightsBps, OpenPeriods: req.OpenPeriods})
	if err != nil {
		return err
	}
	out, err := s.sponsorshipJSON(ctx, st)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

type bidRequest struct {
	AmountMsat money.Msat      `json:"amount_msat"`
	Display    sponsor.Display `json:"display"`
	ClaimKey   string          `json:"claim_key"`
}

type placedJSON struct {
	BidID          string `json:"bid_id"`
	ClaimKey       string `json:"claim_key"`
	PaymentRequest string `json:"payment_request"`
	PaymentHash    string `json:"payment_hash"`
	ExpiresAt      string `json:"expires_at"`
}

func (s *Server) apiPlaceBid(c echo.Context) error {
	var req bidRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, err := s.Sponsors.PlaceBid(c.Request().Context(), sponsor.BidRequest{Slug: c.Param("slug"), Start: c.Param("start"),
		Amount: req.AmountMsat, Display: req.Display, ClaimKey: req.ClaimKey})
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/bids/"+p.Bid.PublicID)
	return c.JSON(http.StatusCreated, placedJSON{BidID: p.Bid.PublicID, ClaimKey: p.ClaimKey, PaymentRequest: p.Invoice.PaymentRequest,
		PaymentHash: p.Invoice.PaymentHash, ExpiresAt: p.Invoice.ExpiresAt.UTC().Format(time.RFC3339)})
}

func (s *Server) apiPeriodRecord(c echo.Context) error {
	ctx := c.Request().Context()
	o, err := s.Offerings.Get(ctx, c.Param("slug"))
	if err != nil {
		return err
	}
	rec, err := s.Sponsors.PeriodRecord(ctx, o, c.Param("start"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rec)
}

type rejectRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) apiRejectBid(c echo.Context) error {
	o, err := s.bearerOwner(c, c.Param("slug"))
	if err != nil {
		return err
	}
	var req rejectRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	b, err := s.Sponsors.Reject(c.Request().Context(), o.ID, c.Param("id"), req.Reason)
	if err != nil {
		return err
	}
	return s.bidAnswer(c, b)
}

// claimKey reads the sponsor's claim key from Authorization: Bearer.
func claimKey(c echo.Context) (string, error) {
	key, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	if !ok || strings.TrimSpace(key) == "" {
		return "", apperr.New(apperr.Unauthorized, "Send the bid's claim key as Authorization: Bearer <key>.")
	}
	return strings.TrimSpace(key), nil
}

// keyAndBody reads the claim key and the JSON body into v.
func keyAndBody(c echo.Context, v any) (string, error) {
	key, err := claimKey(c)
	if err != nil {
		return "", err
	}
	return key, decodeJSON(c, v)
}

// sponsorBid authorises the request for the bid in the path.
func (s *Server) sponsorBid(c echo.Context) (sponsor.Bid, string, error) {
	key, err := claimKey(c)
	if err != nil {
		return sponsor.Bid{}, "", err
	}
	b, err := s.Sponsors.Authorize(c.Request().Context(), c.Param("id"), key)
	return b, key, err
}

type bidJSON struct {
	BidID             string          `json:"bid_id"`
	Offering          string          `json:"offering"`
	Start             string          `json:"start"`
	End               string          `json:"end"`
	State             string          `json:"state"`
	AmountMsat        money.Msat      `json:"amount_msat"`
	Slot              *int            `json:"slot"`
	ChargeMsat        money.Msat      `json:"charge_msat"`
	RefundPayableMsat money.Msat      `json:"refund_payable_msat"`
	Display           sponsor.Display `json:"display"`
	RejectReason      string          `json:"reject_reason,omitempty"`
	Invoices          []string        `json:"invoices"`
	Withdrawals       []payoutJSON    `json:"withdrawals"`
}

func (s *Server) bidAnswer(c echo.Context, b sponsor.Bid) error {
	v, err := s.Sponsors.View(c.Request().Context(), b)
	if err != nil {
		return err
	}
	out := bidJSON{BidID: v.PublicID, Offering: v.Slug, Start: sponsor.FormatStart(v.PeriodStart), End: sponsor.FormatStart(v.PeriodEnd),
		State: string(v.State), AmountMsat: v.Amount, Slot: v.Slot, ChargeMsat: v.Charge, RefundPayableMsat: v.RefundPayable,
		Display:      sponsor.Display{Name: v.DisplayName, URL: v.DisplayURL, Tagline: v.DisplayTagline},
		RejectReason: v.RejectReason, Invoices: v.Invoices, Withdrawals: make([]payoutJSON, 0, len(v.Withdrawals))}
	if out.Invoices == nil {
		out.Invoices = []string{}
	}
	for _, p := range v.Withdrawals {
		out.Withdrawals = append(out.Withdrawals, toPayoutJSON(p))
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}

func (s *Server) apiBid(c echo.Context) error {
	b, _, err := s.sponsorBid(c)
	if err != nil {
		return err
	}
	return s.bidAnswer(c, b)
}

type raiseRequest struct {
	AmountMsat money.Msat `json:"amount_msat"`
}

func (s *Server) apiRaiseBid(c echo.Context) error {
	var req raiseRequest
	key, err := keyAndBody(c, &req)
	if err != nil {
		return err
	}
	inv, err := s.Sponsors.Raise(c.Request().Context(), c.Param("id"), key, req.AmountMsat)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, placedJSON{BidID: c.Param("id"), PaymentRequest: inv.PaymentRequest, PaymentHash: inv.PaymentHash,
		ExpiresAt: inv.ExpiresAt.UTC().Format(time.RFC3339)})
}

func (s *Server) apiEditBidDisplay(c echo.Context) error {
	var d sponsor.Display
	key, err := keyAndBody(c, &d)
	if err != nil {
		return err
	}
	b, err := s.Sponsors.EditDisplay(c.Request().Context(), c.Param("id"), key, d)
	if err != nil {
		return err
	}
	return s.bidAnswer(c, b)
}

func (s *Server) apiWithdrawBid(c echo.Context) error {
	key, err := claimKey(c)
	if err != nil {
		return err
	}
	b, err := s.Sponsors.WithdrawBid(c.Request().Context(), c.Param("id"), key)
	if err != nil {
		return err
	}
	return s.bidAnswer(c, b)
}

func (s *Server) apiBidRefund(c echo.Context) error {
	var req withdrawalRequest
	key, err := keyAndBody(c, &req)
	if err != nil {
		return err
	}
	p, err := s.Sponsors.WithdrawRefund(c.Request().Context(), c.Param("id"), key, req.Destination)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, toPayoutJSON(p))
}

// apiBidRefundLink makes a one-time LNURL-withdraw link for the bid's
// refund: a wallet that scans it is paid what the bid is owed, once.
func (s *Server) apiBidRefundLink(c echo.Context) error {
	key, err := claimKey(c)
	if err != nil {
		return err
	}
	k1, expires, err := s.Sponsors.RefundLink(c.Request().Context(), c.Param("id"), key)
	if err != nil {
		return err
	}
	return s.withdrawLinkJSON(c, k1, expires)
}
