package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/invest"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

// Investments is what the web layer needs from the investment service.
type Investments interface {
	Terms(ctx context.Context, offeringID int64) (invest.Terms, error)
	SetTerms(ctx context.Context, offeringID int64, in invest.TermsInput) (invest.Terms, error)
	SetOpen(ctx context.Context, offeringID int64, open bool) (invest.Terms, error)
	Round(ctx context.Context, offeringID int64) (invest.Round, error)
	Backers(ctx context.Context, offeringID int64, limit int) ([]invest.Backer, error)
	Events(ctx context.Context, offeringID int64, limit int) ([]invest.Event, error)
	LedgerNotes(ctx context.Context, offeringID int64, ids []int64) (map[int64]string, error)
	Invest(ctx context.Context, r invest.InvestRequest) (invest.Made, error)
	Open(ctx context.Context, id int64, key string) (invest.Investment, error)
	ByClaimKey(ctx context.Context, key string) (invest.Investment, error)
	Get(ctx context.Context, id int64) (invest.Investment, error)
	Position(ctx context.Context, inv invest.Investment) (invest.Position, error)
	Returns(ctx context.Context, inv invest.Investment) ([]invest.ReturnPoint, error)
	Withdrawals(ctx context.Context, inv invest.Investment) ([]funding.Payout, error)
	Withdraw(ctx context.Context, inv invest.Investment, destination string) (funding.Payout, error)
	SetPayout(ctx context.Context, inv invest.Investment, destination string, threshold money.Msat) (invest.Investment, error)
	ReportRevenue(ctx context.Context, o offering.Offering, r invest.RevenueRequest) (invest.Reported, error)
	NewWithdrawLink(ctx context.Context, inv invest.Investment) (string, time.Time, error)
	Now() time.Time
}

var _ Investments = (*invest.Service)(nil)

// ReceiptSigner signs an investment receipt with the status-token key.
type ReceiptSigner interface {
	SignClaims(claims any) (string, error)
}

// investRoutes adds investing: terms, investments, revenue, the
// investor's view and withdrawals, API and pages.
func (s *Server) investRoutes(e *echo.Echo, api *echo.Group) {
	if s.Invest == nil {
		return
	}
	invoiceLimit := s.invoiceRateLimiter()
	api.GET("/offerings/:slug/terms", s.apiTerms)
	api.PUT("/offerings/:slug/terms", s.apiSetTerms)
	api.POST("/offerings/:slug/investments", s.apiInvest, invoiceLimit)
	api.POST("/offerings/:slug/revenue", s.apiRevenue, invoiceLimit)
	api.GET("/offerings/:slug/revenue", s.apiRevenueEvents)
	api.GET("/investments/:id", s.apiInvestment)
	api.GET("/investments/:id/receipt", s.apiReceipt)
	api.POST("/investments/:id/withdrawals", s.apiInvestmentWithdraw)
	api.GET("/investments/:id/withdrawals", s.apiInvestmentWithdrawals)
	api.PUT("/investments/:id/payout", s.apiInvestmentPayout)
	api.POST("/investments/:id/lnurl-withdraw", s.apiInvestmentWithdrawLink)
	// Investors' links were once served here; the one handler serves them.
	e.GET("/lnurlw/i/:k1", s.lnurlWithdrawParams)
	e.GET("/lnurlw/i/:k1/callback", s.lnurlWithdrawCallback)
	s.investPageRoutes(e, invoiceLimit)
}

type termsJSON struct {
	ShareBps       int         `json:"share_bps"`
	CapBps         int         `json:"cap_bps"`
	MinMsat        money.Msat  `json:"min_msat"`
	MaxMsat        money.Msat  `json:"max_msat"`
	RaiseLimitMsat *money.Msat `json:"raise_limit_msat"`
	Open           bool        `json:"open"`
}

func toTermsJSON(t invest.Terms) termsJSON {
	return termsJSON{ShareBps: t.ShareBps, CapBps: t.CapBps, MinMsat: t.MinMsat, MaxMsat: t.MaxMsat,
		RaiseLimitMsat: t.RaiseLimitMsat, Open: t.Open}
}

type roundJSON struct {
	termsJSON
	RaisedMsat  money.Msat `json:"raised_msat"`
	Investors   int64      `json:"investors"`
	SharedMsat  money.Msat `json:"shared_msat"`
	RevenueMsat money.Msat `json:"revenue_msat"`
}

func (s *Server) apiTerms(c echo.Context) error {
	ctx := c.Request().Context()
	o, err := s.Offerings.Get(ctx, c.Param("slug"))
	if err != nil {
		return err
	}
	r, err := s.Invest.Round(ctx, o.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, roundJSON{termsJSON: toTermsJSON(r.Terms), RaisedMsat: r.RaisedMsat, Investors: r.Investors,
		SharedMsat: r.SharedMsat, RevenueMsat: r.RevenueMsat})
}

type termsRequest struct {
	ShareBps       *int        `json:"share_bps"`
	CapBps         *int        `json:"cap_bps"`
	MinMsat        *money.Msat `json:"min_msat"`
	MaxMsat        *money.Msat `json:"max_msat"`
	RaiseLimitMsat *money.Msat `json:"raise_limit_msat"`
	Open           *bool       `json:"open"`
}

func (s *Server) apiSetTerms(c echo.Context) error {
	o, err := s.bearerOwner(c, c.Param("slug"))
	if err != nil {
		return err
	}
	var req termsRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.Invest.SetTerms(c.Request().Context(), o.ID, invest.TermsInput(req))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTermsJSON(t))
}

type investRequest struct {
	AmountMsat *money.Msat `json:"amount_msat"`
	Name       string      `json:"name"`
	Public     bool        `json:"public"`
}

type investmentCreatedJSON struct {
	InvestmentID   int64      `json:"investment_id"`
	ClaimKey       string     `json:"claim_key"`
	PaymentRequest string     `json:"payment_request"`
	PaymentHash    string     `json:"payment_hash"`
	AmountMsat     money.Msat `json:"amount_msat"`
	ExpiresAt      string     `json:"expires_at"`
	Terms          termsJSON  `json:"terms"`
}

func (s *Server) apiInvest(c echo.Context) error {
	var req investRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.AmountMsat == nil {
		return apperr.InvalidFields(map[string]string{"amount_msat": "Say how much to invest, in msat."})
	}
	m, err := s.Invest.Invest(c.Request().Context(), invest.InvestRequest{
		Slug: c.Param("slug"), Amount: *req.AmountMsat, Name: req.Name, Public: req.Public, Via: "api"})
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/api/v1/investments/"+strconv.FormatInt(m.Investment.ID, 10))
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusCreated, investmentCreatedJSON{
		InvestmentID: m.Investment.ID, ClaimKey: m.ClaimKey, PaymentRequest: m.Invoice.PaymentRequest,
		PaymentHash: m.Invoice.PaymentHash, AmountMsat: m.Invoice.AmountMsat,
		ExpiresAt: m.Invoice.ExpiresAt.UTC().Format(time.RFC3339), Terms: toTermsJSON(m.Terms),
	})
}

type revenueRequest struct {
	AmountMsat *money.Msat `json:"amount_msat"`
	Note       string      `json:"note"`
	From       string      `json:"from"`
	Key        string      `json:"idempotency_key"`
}

type distributionJSON struct {
	EventID       int64      `json:"event_id"`
	AmountMsat    money.Msat `json:"amount_msat"`
	InvestorsMsat money.Msat `json:"investors_msat"`
	RunwayMsat    money.Msat `json:"runway_msat"`
	Investments   int        `json:"investments"`
}

func (s *Server) apiRevenue(c echo.Context) error {
	o, err := s.bearerOwner(c, c.Param("slug"))
	if err != nil {
		return err
	}
	var req revenueRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.AmountMsat == nil {
		return apperr.InvalidFields(map[string]string{"amount_msat": "Say how much revenue to share, in msat."})
	}
	rep, err := s.Invest.ReportRevenue(c.Request().Context(), o, invest.RevenueRequest{
		Amount: *req.AmountMsat, Note: req.Note, From: req.From, Key: req.Key})
	if err != nil {
		return err
	}
	if rep.Invoice != nil {
		inv := rep.Invoice
		c.Response().Header().Set("Location", "/api/v1/invoices/"+inv.PaymentHash)
		return c.JSON(http.StatusCreated, invoiceCreatedJSON{PaymentHash: inv.PaymentHash, PaymentRequest: inv.PaymentRequest,
			AmountMsat: inv.AmountMsat, ExpiresAt: inv.ExpiresAt.UTC().Format(time.RFC3339)})
	}
	d := rep.Distribution
	return c.JSON(http.StatusCreated, distributionJSON{EventID: d.EventID, AmountMsat: d.Investors + d.Runway,
		InvestorsMsat: d.Investors, RunwayMsat: d.Runway, Investments: len(d.Parts)})
}

type revenueEventJSON struct {
	ID            int64      `json:"id"`
	AmountMsat    money.Msat `json:"amount_msat"`
	InvestorsMsat money.Msat `json:"investors_msat"`
	RunwayMsat    money.Msat `json:"runway_msat"`
	Investments   int        `json:"investments"`
	Note          string     `json:"note"`
	At            string     `json:"at"`
}

// apiRevenueEvents lists an offering's revenue events: public, like the
// ledger they are part of.
func (s *Server) apiRevenueEvents(c echo.Context) error {
	ctx := c.Request().Context()
	o, err := s.Offerings.Get(ctx, c.Param("slug"))
	if err != nil {
		return err
	}
	evs, err := s.Invest.Events(ctx, o.ID, 100)
	if err != nil {
		return err
	}
	out := struct {
		Events []revenueEventJSON `json:"events"`
	}{Events: make([]revenueEventJSON, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, revenueEventJSON{ID: e.ID, AmountMsat: e.AmountMsat, InvestorsMsat: e.InvestorsMsat,
			RunwayMsat: e.RunwayMsat, Investments: e.Investments, Note: e.Memo, At: e.CreatedAt.UTC().Format(time.RFC3339)})
	}
	return c.JSON(http.StatusOK, out)
}

// bearerInvestment opens the investment in the path with the claim key
// sent as Authorization: Bearer.
func (s *Server) bearerInvestment(c echo.Context) (invest.Investment, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return invest.Investment{}, apperr.New(apperr.NotFound, "No such investment.")
	}
	key, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	if !ok || strings.TrimSpace(key) == "" {
		return invest.Investment{}, apperr.New(apperr.Unauthorized, "Send the investment's claim key as Authorization: Bearer <key>.")
	}
	return s.Invest.Open(c.Request().Context(), id, key)
}

type investmentJSON struct {
	ID            int64      `json:"id"`
	Offering      string     `json:"offering"`
	State         string     `json:"state"`
	PrincipalMsat money.Msat `json:"principal_msat"`
	Terms         struct {
		ShareBps int `json:"share_bps"`
		CapBps   int `json:"cap_bps"`
	} `json:"terms"`
	ReturnedMsat        money.Msat `json:"returned_msat"`
	PayableMsat         money.Msat `json:"payable_msat"`
	WithdrawnMsat       money.Msat `json:"withdrawn_msat"`
	CapMsat             money.Msat `json:"cap_msat"`
	PayoutDestination   string     `json:"payout_destination,omitempty"`
	PayoutThresholdMsat money.Msat `json:"payout_threshold_msat,omitempty"`
	CreatedAt           string     `json:"created_at"`
	ActivatedAt         *string    `json:"activated_at"`
}

func (s *Server) investmentJSON(ctx context.Context, inv invest.Investment) (investmentJSON, error) {
	o, err := s.Offerings.GetByID(ctx, inv.OfferingID)
	if err != nil {
		return investmentJSON{}, err
	}
	p, err := s.Invest.Position(ctx, inv)
	if err != nil {
		return investmentJSON{}, err
	}
	j := investmentJSON{ID: inv.ID, Offering: o.Slug, State: string(inv.State), PrincipalMsat: inv.PrincipalMsat,
		ReturnedMsat: inv.ReturnedMsat, PayableMsat: p.PayableMsat, WithdrawnMsat: p.WithdrawnMsat, CapMsat: inv.CapMsat,
		PayoutDestination: inv.PayoutDestination, PayoutThresholdMsat: inv.PayoutThresholdMsat,
		CreatedAt: inv.CreatedAt.UTC().Format(time.RFC3339)}
	j.Terms.ShareBps, j.Terms.CapBps = inv.ShareBps, inv.CapBps
	if inv.ActivatedAt != nil {
		t := inv.ActivatedAt.UTC().Format(time.RFC3339)
		j.ActivatedAt = &t
	}
	return j, nil
}

func (s *Server) apiInvestment(c echo.Context) error {
	inv, err := s.bearerInvestment(c)
	if err != nil {
		return err
	}
	j, err := s.investmentJSON(c.Request().Context(), inv)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, j)
}

// Receipt is what an investment receipt says, signed with the site's
// status-token key (verify it against /.well-known/jwks.json).
type Receipt struct {
	Issuer        string     `json:"iss"`
	Type          string     `json:"typ"`
	Subject       string     `json:"sub"` // investment/<id>
	Offering      string     `json:"offering"`
	PrincipalMsat money.Msat `json:"principal_msat"`
	ShareBps      int        `json:"share_bps"`
	CapBps        int        `json:"cap_bps"`
	CapMsat       money.Msat `json:"cap_msat"`
	PaymentHash   string     `json:"payment_hash"`
	ClaimKeyHash  string     `json:"claim_key_sha256"`
	InvestedAt    int64      `json:"invested_at"`
	IssuedAt      int64      `json:"iat"`
}

// ReceiptType is the typ of every investment receipt.
const ReceiptType = "keepalive/investment-receipt"

func (s *Server) receipt(ctx context.Context, inv invest.Investment) (string, error) {
	signer, ok := s.Tokens.(ReceiptSigner)
	if !ok {
		return "", apperr.New(apperr.NotFound, "This site does not sign receipts.")
	}
	if inv.State == invest.Pending || inv.ActivatedAt == nil {
		return "", apperr.New(apperr.Conflict, "The receipt is signed once the investment is paid.")
	}
	o, err := s.Offerings.GetByID(ctx, inv.OfferingID)
	if err != nil {
		return "", err
	}
	return signer.SignClaims(Receipt{Issuer: s.BaseURL, Type: ReceiptType, Subject: "investment/" + strconv.FormatInt(inv.ID, 10),
		Offering: o.Slug, PrincipalMsat: inv.PrincipalMsat, ShareBps: inv.ShareBps, CapBps: inv.CapBps, CapMsat: inv.CapMsat,
		PaymentHash: inv.PaymentHash, ClaimKeyHash: inv.ClaimKeyHash, InvestedAt: inv.ActivatedAt.Unix(), IssuedAt: s.Invest.Now().Unix()})
}

func (s *Server) apiReceipt(c echo.Context) error {
	inv, err := s.bearerInvestment(c)
	if err != nil {
		return err
	}
	r, err := s.receipt(c.Request().Context(), inv)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"receipt": r, "jwks": s.BaseURL + "/.well-known/jwks.json"})
}

func (s *Server) apiInvestmentWithdraw(c echo.Context) error {
	inv, err := s.bearerInvestment(c)
	if err != nil {
		return err
	}
	return answerWithdrawal(c, func(ctx context.Context, destination string) (funding.Payout, error) {
		return s.Invest.Withdraw(ctx, inv, destination)
	})
}

func (s *Server) apiInvestmentWithdrawals(c echo.Context) error {
	inv, err := s.bearerInvestment(c)
	if err != nil {
		return err
	}
	list, err := s.Invest.Withdrawals(c.Request().Context(), inv)
	if err != nil {
		return err
	}
	out := struct {
		Withdrawals []payoutJSON `json:"withdrawals"`
	}{Withdrawals: make([]payoutJSON, 0, len(list))}
	for _, p := range list {
		out.Withdrawals = append(out.Withdrawals, toPayoutJSON(p))
	}
	return c.JSON(http.StatusOK, out)
}

type payoutRequest struct {
	Destination   string     `json:"destination"`
	ThresholdMsat money.Msat `json:"threshold_msat"`
}

func (s *Server) apiInvestmentPayout(c echo.Context) error {
	inv, err := s.bearerInvestment(c)
	if err != nil {
		return err
	}
	var req payoutRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	inv, err = s.Invest.SetPayout(c.Request().Context(), inv, req.Destination, req.ThresholdMsat)
	if err != nil {
		return err
	}
	j, err := s.investmentJSON(c.Request().Context(), inv)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, j)
}

func (s *Server) apiInvestmentWithdrawLink(c echo.Context) error {
	inv, err := s.bearerInvestment(c)
	if err != nil {
		return err
	}
	k1, expires, err := s.Invest.NewWithdrawLink(c.Request().Context(), inv)
	if err != nil {
		return err
	}
	return s.withdrawLinkJSON(c, k1, expires)
}
