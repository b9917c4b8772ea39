package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

// Funding is what the web layer needs from the funding service.
type Funding interface {
	Donate(ctx context.Context, r funding.DonationRequest) (funding.Invoice, error)
	Invoice(ctx context.Context, paymentHash string) (funding.Invoice, error)
	Settle(ctx context.Context, ni lightning.Invoice) error
	WithdrawEarned(ctx context.Context, o offering.Offering, destination string) (funding.Payout, error)
	Payouts(ctx context.Context, offeringID int64, limit int) ([]funding.Payout, error)
	Settlements() (<-chan string, func())
	CreditedHere(paymentHash string) (funding.Invoice, bool)
	RecentCredits(ctx context.Context, offeringID int64, limit int) ([]funding.Invoice, error)
	NewWithdrawLink(ctx context.Context, src funding.WithdrawSource) (string, time.Time, error)
	WithdrawParams(ctx context.Context, k1 string) (funding.WithdrawOffer, error)
	RedeemWithdrawLink(ctx context.Context, k1, pr string) (funding.Payout, error)
	Wall(ctx context.Context, offeringID int64, limit int) ([]funding.WallEntry, error)
	Payments(ctx context.Context, offeringID int64) (int64, error)
	Now() time.Time
}

// DemoPayer is the demo node's "someone paid it" button.
type DemoPayer interface {
	Pay(ctx context.Context, hash lightning.Hash) (lightning.Invoice, error)
}

// DemoWallet makes invoices as a simulated wallet would (demo mode only).
type DemoWallet interface {
	CreateInvoice(ctx context.Context, req lightning.CreateInvoiceRequest) (lightning.Invoice, error)
}

type donationRequest struct {
	AmountMsat *money.Msat `json:"amount_msat"`
	Name       string      `json:"name"`
	Message    string      `json:"message"`
	Public     bool        `json:"public"`
}

type invoiceCreatedJSON struct {
	PaymentHash    string     `json:"payment_hash"`
	PaymentRequest string     `json:"payment_request"`
	AmountMsat     money.Msat `json:"amount_msat"`
	ExpiresAt      string     `json:"expires_at"`
}

func (s *Server) apiDonate(c echo.Context) error {
	var req donationRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.AmountMsat == nil {
		return apperr.InvalidFields(map[string]string{"amount_msat": "Say how much to give, in msat."})
	}
	inv, err := s.Funding.Donate(c.Request().Context(), funding.DonationRequest{
		Slug: c.Param("slug"), Amount: *req.AmountMsat, Name: req.Name, Message: req.Message, Public: req.Public, Via: "api",
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/api/v1/invoices/"+inv.PaymentHash)
	return c.JSON(http.StatusCreated, invoiceCreatedJSON{
		PaymentHash: inv.PaymentHash, PaymentRequest: inv.PaymentRequest, AmountMsat: inv.AmountMsat,
		ExpiresAt: inv.ExpiresAt.UTC().Format(time.RFC3339),
	})
}

type invoiceJSON struct {
	PaymentHash string     `json:"payment_hash"`
	State       string     `json:"state"`
	AmountMsat  money.Msat `json:"amount_msat"`
	PaidMsat    money.Msat `json:"paid_msat"`
	Purpose     string     `json:"purpose"`
	Offering    string     `json:"offering"`
	ExpiresAt   string     `json:"expires_at"`
	SettledAt   *string    `json:"settled_at"`
}

// maxInvoiceWait bounds GET /api/v1/invoices/{hash}?wait=N (seconds),
// within the server's write timeout.
const maxInvoiceWait = 50

// apiInvoice answers an invoice's state. With ?wait=N (1 to 50 seconds)
// and the invoice still open, it answers when the invoice is paid or
// lapses, or after N seconds with the invoice still open: a client waiting
// for a payment asks once instead of polling, and hears of it as soon as
// any replica has credited it.
func (s *Server) apiInvoice(c echo.Context) error {
	ctx := c.Request().Context()
	wait, err := intParam(c, "wait", 0, 0, maxInvoiceWait)
	if err != nil {
		return err
	}
	var settled <-chan string
	if wait > 0 {
		release, err := s.waits.hold(c)
		if err != nil {
			return err
		}
		defer release()
		// Subscribed before the invoice is read, so that a settlement
		// landing between the two is heard.
		var stop func()
		settled, stop = s.Funding.Settlements()
		defer stop()
	}
	inv, err := s.Funding.Invoice(ctx, c.Param("hash"))
	if err != nil {
		return err
	}
	if wait > 0 {
		inv, _ = s.awaitPayment(ctx, inv, settled, s.Funding.Now().Add(time.Duration(wait)*time.Second), nil)
		if ctx.Err() != nil {
			return nil // the client left: there is no one to answer
		}
	}
	slug, err := s.Offerings.SlugOf(ctx, inv.OfferingID)
	if err != nil {
		return err
	}
	j := invoiceJSON{
		PaymentHash: inv.PaymentHash, State: string(inv.StateAt(s.Funding.Now())), AmountMsat: inv.AmountMsat,
		PaidMsat: inv.PaidMsat, Purpose: string(inv.Purpose), Offering: slug, ExpiresAt: inv.ExpiresAt.UTC().Format(time.RFC3339),
	}
	if inv.SettledAt != nil {
		t := inv.SettledAt.UTC().Format(time.RFC3339)
		j.SettledAt = &t
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, j)
}

// apiDemoPay is the demo node's pay button as an API: it exists only when
// payments are simulated.
func (s *Server) apiDemoPay(c echo.Context) error {
	if err := s.demoSettle(c); err != nil {
		return err
	}
	return s.apiInvoice(c)
}

// demoSettle pays the invoice named in the path on the demo node, and
// credits it at once: the settlement stream credits it too, and settling
// is idempotent, so the new runway is visible before the answer.
func (s *Server) demoSettle(c echo.Context) error {
	hash, err := lightning.ParseHash(c.Param("hash"))
	if err != nil {
		return apperr.New(apperr.Invalid, "A payment hash is 64 hex characters.")
	}
	ctx := c.Request().Context()
	if _, err := s.Funding.Invoice(ctx, hash.String()); err != nil {
		return err
	}
	ni, err := s.DemoPayer.Pay(ctx, hash)
	if errors.Is(err, lightning.ErrInvoiceNotFound) {
		return apperr.Wrap(err, apperr.Conflict, "The demo node was restarted and has forgotten this invoice; make a new one.")
	}
	if err != nil {
		return err
	}
	return s.Funding.Settle(ctx, ni)
}

type withdrawalRequest struct {
	Destination string `json:"destination"`
}

type payoutJSON struct {
	PaymentHash   string     `json:"payment_hash"`
	State         string     `json:"state"`
	AmountMsat    money.Msat `json:"amount_msat"`
	FeeMsat       money.Msat `json:"fee_msat"`
	FeeLimitMsat  money.Msat `json:"fee_limit_msat"`
	Destination   string     `json:"destination"`
	FailureReason string     `json:"failure_reason,omitempty"`
	CreatedAt     string     `json:"created_at"`
	FinishedAt    *string    `json:"finished_at"`
}

func toPayoutJSON(p funding.Payout) payoutJSON {
	j := payoutJSON{PaymentHash: p.PaymentHash, State: string(p.State), AmountMsat: p.AmountMsat, FeeMsat: p.FeeMsat,
		FeeLimitMsat: p.FeeLimitMsat, Destination: p.Destination, FailureReason: p.FailureReason,
		CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339)}
	if p.FinishedAt != nil {
		t := p.FinishedAt.UTC().Format(time.RFC3339)
		j.FinishedAt = &t
	}
	return j
}

func (s *Server) apiWithdraw(c echo.Context) error {
	o, err := s.bearerOwner(c, c.Param("slug"))
	if err != nil {
		return err
	}
	return answerWithdrawal(c, func(ctx context.Context, destination string) (funding.Payout, error) {
		return s.Funding.WithdrawEarned(ctx, o, destination)
	})
}

// answerWithdrawal reads a withdrawal request's destination, pays it with
// pay, and answers the payout as accepted (it completes in the
// background).
func answerWithdrawal(c echo.Context, pay func(ctx context.Context, destination string) (funding.Payout, error)) error {
	var req withdrawalRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, err := pay(c.Request().Context(), req.Destination)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, toPayoutJSON(p))
}

func (s *Server) apiWithdrawals(c echo.Context) error {
	o, err := s.bearerOwner(c, c.Param("slug"))
	if err != nil {
		return err
	}
	list, err := s.Funding.Payouts(c.Request().Context(), o.ID, 100)
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

// LNURL-pay (LUD-06) and Lightning Address (LUD-16) for every offering.

var lnurlCommentAllowed = funding.PayerMessageField.Max

// lnurlMetadata is the metadata an offering's pay request commits to. It
// is derived from the offering every time, so the callback computes the
// same description hash the wallet saw.
func (s *Server) lnurlMetadata(o offering.Offering) string {
	return lnurl.BuildMetadata("Keep "+o.Name+" alive", o.Slug+"@"+s.host(), "")
}

// host is the site's host, for Lightning Addresses.
func (s *Server) host() string {
	u, err := url.Parse(s.BaseURL)
	if err != nil {
		return "localhost"
	}
	return u.Host
}

func lnurlError(c echo.Context, status int, reason string) error {
	return c.JSON(status, lnurl.NewErrorResponse(reason))
}

func (s *Server) lnurlPayParams(c echo.Context) error {
	o, err := s.Offerings.Get(c.Request().Context(), strings.ToLower(c.Param("slug")))
	if err != nil {
		return lnurlError(c, http.StatusNotFound, "No offering has that address.")
	}
	return c.JSON(http.StatusOK, lnurl.PayParams{
		Callback:       s.BaseURL + "/lnurlp/" + url.PathEscape(o.Slug) + "/callback",
		MinSendable:    s.MinDonation,
		MaxSendable:    s.MaxDonation,
		Metadata:       s.lnurlMetadata(o),
		Tag:            lnurl.TagPayRequest,
		CommentAllowed: lnurlCommentAllowed,
	})
}

func (s *Server) lnurlPayCallback(c echo.Context) error {
	ctx := c.Request().Context()
	o, err := s.Offerings.Get(ctx, strings.ToLower(c.Param("slug")))
	if err != nil {
		return lnurlError(c, http.StatusNotFound, "No offering has that address.")
	}
	amount, err := strconv.ParseInt(c.QueryParam("amount"), 10, 64)
	if err != nil || amount <= 0 {
		return lnurlError(c, http.StatusBadRequest, "amount must be a positive number of msat")
	}
	comment := c.QueryParam("comment")
	if len([]rune(comment)) > lnurlCommentAllowed {
		return lnurlError(c, http.StatusBadRequest, "comment is too long")
	}
	metadata := s.lnurlMetadata(o)
	dh := lnurl.DescriptionHash(metadata)
	inv, err := s.Funding.Donate(ctx, funding.DonationRequest{
		Slug: o.Slug, Amount: money.Msat(amount), Message: comment, Via: "lnurl", DescriptionHash: dh[:],
	})
	if err != nil {
		status := statusOf(apperr.CodeOf(err))
		if status >= 500 {
			s.log.ErrorContext(ctx, "lnurl-pay callback", "err", err)
		}
		msg := apperr.MessageOf(err)
		for _, m := range apperr.FieldsOf(err) {
			msg = m
		}
		return lnurlError(c, status, msg)
	}
	resp := lnurl.PayCallbackResponse{PR: inv.PaymentRequest}
	if st, err := s.Offerings.Status(ctx, o.Slug); err == nil {
		resp.SuccessAction, _ = lnurl.MessageAction(thankYou(o, st, inv.AmountMsat, s.Funding.Now()))
	}
	return c.JSON(http.StatusOK, resp)
}

// thankYou is the LUD-09 message a wallet shows after paying: the new
// funded-until, computed as settlement will compute it.
func thankYou(o offering.Offering, st offering.Status, paid money.Msat, now time.Time) string {
	from := now
	if st.FundedUntil.After(now) {
		from = st.FundedUntil
	}
	secs, err := money.MulDiv(paid, 3600, int64(o.BurnRateMsatPerHour))
	if err != nil {
		secs = 0
	}
	until := from.Add(time.Duration(secs) * time.Second)
	msg := "Thank you! " + o.Name + " is funded until " + until.UTC().Format("2 Jan 2006 15:04") + " UTC."
	if len([]rune(msg)) > lnurl.MaxSuccessText {
		msg = "Thank you! Funded until " + until.UTC().Format("2 Jan 2006 15:04") + " UTC."
	}
	return msg
}
