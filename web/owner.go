package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/lightning"
	"github.com/keepalive/keepalive/internal/lnurl"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/templates"
)

// Cookies that tie a browser to the LNURL-auth challenge it shows: the
// wallet proves the key, the browser proves it asked with the challenge's
// binding, a secret the QR code does not carry.
const (
	loginChallengeCookie = "ka_auth"
	linkChallengeCookie  = "ka_link"
)

func (s *Server) setChallengeCookie(c echo.Context, name, binding string) {
	c.SetCookie(&http.Cookie{Name: name, Value: binding, Path: "/", MaxAge: int(offering.ChallengeTTL / time.Second),
		HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode})
}

func challengeCookie(c echo.Context, name string) string {
	ck, err := c.Cookie(name)
	if err != nil || len(ck.Value) != 64 {
		return ""
	}
	return ck.Value
}

// authLNURL is the LNURL a wallet scans to sign k1 (LUD-04).
func (s *Server) authLNURL(k1 string, action offering.AuthAction) string {
	code, _ := lnurl.Encode(lnurl.AuthURL(s.BaseURL+"/lnurl/auth", k1, string(action)))
	return code
}

// signInWallet adds the wallet half of the sign-in page.
func (s *Server) signInWallet(c echo.Context, v *templates.SignInView) error {
	ch, err := s.Offerings.NewChallenge(c.Request().Context(), offering.AuthLogin, nil)
	if err != nil {
		return err
	}
	s.setChallengeCookie(c, loginChallengeCookie, ch.Binding)
	v.WalletLNURL = s.authLNURL(ch.K1, offering.AuthLogin)
	v.WalletQR = s.qr.svg("lightning:"+v.WalletLNURL, 240)
	v.WalletAction = "/signin/wallet"
	v.WalletStatusURL = "/signin/wallet/status"
	return nil
}

// lnurlAuth is the wallet's LUD-04 callback.
func (s *Server) lnurlAuth(c echo.Context) error {
	q := c.QueryParams()
	if q.Get("tag") != "login" {
		return lnurlError(c, http.StatusBadRequest, "tag must be login")
	}
	err := s.Offerings.WalletSigned(c.Request().Context(), q.Get("k1"), q.Get("sig"), q.Get("key"))
	if err != nil {
		status := statusOf(apperr.CodeOf(err))
		if status >= 500 {
			s.log.ErrorContext(c.Request().Context(), "lnurl-auth", "err", err)
		}
		return lnurlError(c, status, apperr.MessageOf(err))
	}
	return c.JSON(http.StatusOK, lnurl.NewOKResponse())
}

func (s *Server) walletChallengeStatus(cookie string) echo.HandlerFunc {
	return func(c echo.Context) error {
		binding := challengeCookie(c, cookie)
		ready := false
		if binding != "" {
			ready, _ = s.Offerings.ChallengeSigned(c.Request().Context(), binding)
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, map[string]bool{"ready": ready})
	}
}

// signInWithWallet finishes a wallet sign-in: the challenge this browser
// showed must have been signed by a linked wallet.
func (s *Server) signInWithWallet(c echo.Context) error {
	binding := challengeCookie(c, loginChallengeCookie)
	var owned []offering.Offering
	var err error = apperr.New(apperr.Unauthorized, "This sign-in has expired; scan the new code.")
	if binding != "" {
		owned, err = s.Offerings.CompleteLogin(c.Request().Context(), binding)
	}
	if err != nil {
		v := templates.SignInView{Page: s.page(c, "Sign in"), WalletError: apperr.MessageOf(err)}
		if werr := s.signInWallet(c, &v); werr != nil {
			return werr
		}
		return s.render(c, statusOf(apperr.CodeOf(err)), templates.SignIn(v))
	}
	c.SetCookie(&http.Cookie{Name: loginChallengeCookie, Value: "", Path: "/", MaxAge: -1})
	for _, o := range owned {
		if err := s.signInTo(c, o); err != nil {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard")
}

// walletPage lets a signed-in owner link a wallet to an offering.
func (s *Server) walletPage(c echo.Context) error {
	o, err := s.requireOwner(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ch, err := s.Offerings.NewChallenge(ctx, offering.AuthLink, &o.ID)
	if err != nil {
		return err
	}
	s.setChallengeCookie(c, linkChallengeCookie, ch.Binding)
	keys, err := s.Offerings.LinkedKeys(ctx, o.ID)
	if err != nil {
		return err
	}
	st, err := s.Offerings.Status(ctx, o.Slug)
	if err != nil {
		return err
	}
	v := templates.WalletView{Page: s.page(c, "Link a wallet"), Offering: card(o, st),
		LNURL: s.authLNURL(ch.K1, offering.AuthLink), StatusURL: "/offerings/" + url.PathEscape(o.Slug) + "/wallet/status", DoneURL: "/dashboard"}
	v.QR = s.qr.svg("lightning:"+v.LNURL, 240)
	for _, k := range keys {
		v.LinkedKeys = append(v.LinkedKeys, shortKey(k))
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.render(c, http.StatusOK, templates.Wallet(v))
}

func shortKey(k string) string {
	if len(k) <= 12 {
		return k
	}
	return k[:6] + "…" + k[len(k)-6:]
}

// rotateKey replaces an offering's manage key and shows the new one once.
func (s *Server) rotateKey(c echo.Context) error {
	o, err := s.requireOwner(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	key, err := s.Offerings.RotateKey(ctx, o.Slug)
	if err != nil {
		return err
	}
	o, err = s.Offerings.Get(ctx, o.Slug)
	if err != nil {
		return err
	}
	if err := s.signInTo(c, o); err != nil { // this browser stays signed in with the new key
		return err
	}
	st, err := s.Offerings.Status(ctx, o.Slug)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	v := templates.CreatedView{Page: s.page(c, "New manage key"), Offering: card(o, st), ManageKey: key, DashboardURL: "/dashboard", Rotated: true}
	v.Page.SignedIn = true
	return s.render(c, http.StatusOK, templates.Created(v))
}

// withdrawPage shows what the owner can withdraw, the form, a one-time
// LNURL-withdraw code and the payouts so far.
func (s *Server) withdrawPage(c echo.Context) error {
	o, err := s.requireOwner(c)
	if err != nil {
		return err
	}
	v, err := s.withdrawView(c, o)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, templates.Withdraw(v))
}

func (s *Server) withdrawView(c echo.Context, o offering.Offering) (templates.WithdrawView, error) {
	ctx := c.Request().Context()
	_, fin, err := s.Offerings.View(ctx, o.Slug)
	if err != nil {
		return templates.WithdrawView{}, err
	}
	withdrawable := funding.MaxPayable(fin.Earned)
	v := templates.WithdrawView{
		Page: s.page(c, "Withdraw"), Offering: card(o, fin.Status), EarnedText: fin.EarnedTotal.Display(),
		WithdrawableText: withdrawable.Display(),
		FeeNote:          "Up to 0.5% (at least 5 sats) is kept aside for routing fees; what is not used stays yours.",
		Action:           "/offerings/" + url.PathEscape(o.Slug) + "/withdraw",
	}
	if s.DemoWallet != nil {
		v.DemoInvoiceAction = v.Action + "/demo-invoice"
	}
	if withdrawable >= money.MsatPerSat {
		k1, expires, err := s.Funding.NewWithdrawLink(ctx, funding.EarnedSource(o))
		if err != nil {
			return v, err
		}
		v.LNURL, _ = s.withdrawLinkCode(k1)
		v.LNURLQR = s.qr.svg("lightning:"+v.LNURL, 240)
		v.LNURLExpiresAt = expires
	}
	payouts, err := s.Funding.Payouts(ctx, o.ID, 50)
	if err != nil {
		return v, err
	}
	for _, p := range payouts {
		row := templates.PayoutRow{When: p.CreatedAt, AmountText: p.AmountMsat.Display(), State: string(p.State),
			Destination: p.Destination, FailureReason: p.FailureReason}
		if p.State == funding.PayoutSucceeded {
			row.FeeText = p.FeeMsat.Display()
		}
		v.Payouts = append(v.Payouts, row)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return v, nil
}

func (s *Server) withdraw(c echo.Context) error {
	o, err := s.requireOwner(c)
	if err != nil {
		return err
	}
	dest := strings.TrimSpace(c.FormValue("destination"))
	_, err = s.Funding.WithdrawEarned(c.Request().Context(), o, dest)
	if err == nil {
		return c.Redirect(http.StatusSeeOther, "/offerings/"+url.PathEscape(o.Slug)+"/withdraw")
	}
	if apperr.CodeOf(err) == apperr.Internal || apperr.CodeOf(err) == apperr.Unavailable {
		return err
	}
	v, verr := s.withdrawView(c, o)
	if verr != nil {
		return verr
	}
	v.Destination.Value = dest
	v.Destination.Error = apperr.MessageOf(err)
	if f := apperr.FieldsOf(err); f["destination"] != "" {
		v.Destination.Error = f["destination"]
	}
	if s.Demo && !isInvoice(dest) {
		// The address may be fine: in demo mode nothing reaches the
		// real Lightning network.
		v.Destination.Error = demoAddressError
	}
	return s.render(c, statusOf(apperr.CodeOf(err)), templates.Withdraw(v))
}

const demoAddressError = "Demo mode cannot reach real Lightning Addresses or LNURLs: no real bitcoin moves here. " +
	"Press “Make a simulated invoice” below to see a withdrawal through."

// isInvoice reports whether a withdrawal destination is a BOLT11 invoice
// (rather than a Lightning Address or an LNURL).
func isInvoice(dest string) bool {
	lower := strings.TrimPrefix(strings.ToLower(dest), "lightning:")
	return strings.HasPrefix(lower, "ln") && !strings.HasPrefix(lower, "lnurl")
}

// demoWithdrawInvoice fills the withdraw form with an invoice from a
// simulated wallet, so demo mode can show a withdrawal through. The
// invoice has no amount: it takes everything withdrawable.
func (s *Server) demoWithdrawInvoice(c echo.Context) error {
	o, err := s.requireOwner(c)
	if err != nil {
		return err
	}
	if s.DemoWallet == nil {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	inv, err := s.DemoWallet.CreateInvoice(c.Request().Context(), lightning.CreateInvoiceRequest{
		Memo: "Simulated wallet: earnings of " + o.Name})
	if err != nil {
		return fmt.Errorf("web: simulated wallet invoice: %w", err)
	}
	v, err := s.withdrawView(c, o)
	if err != nil {
		return err
	}
	v.Destination.Value = inv.PaymentRequest
	v.DemoInvoiceMade = true
	return s.render(c, http.StatusOK, templates.Withdraw(v))
}

// LNURL-withdraw (LUD-03): one-time links to whatever the site owes
// someone (an offering's earnings, an investment's returns, a bid's
// refund), all redeemed through funding's one path.

// withdrawLinkCode is the bech32 LNURL and the URL of a withdraw link.
func (s *Server) withdrawLinkCode(k1 string) (code, u string) {
	u = s.BaseURL + "/lnurlw/" + k1
	code, _ = lnurl.Encode(u) // a well-formed URL always encodes
	return code, u
}

// withdrawLinkJSON answers an API call that made a withdraw link.
func (s *Server) withdrawLinkJSON(c echo.Context, k1 string, expires time.Time) error {
	code, u := s.withdrawLinkCode(k1)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusCreated, map[string]string{"lnurl": code, "url": u, "expires_at": expires.UTC().Format(time.RFC3339)})
}

func (s *Server) lnurlWithdrawParams(c echo.Context) error {
	k1 := c.Param("k1")
	offer, err := s.Funding.WithdrawParams(c.Request().Context(), k1)
	if err != nil {
		return lnurlError(c, statusOf(apperr.CodeOf(err)), apperr.MessageOf(err))
	}
	if offer.Max < money.MsatPerSat {
		return lnurlError(c, http.StatusConflict, "There is nothing to withdraw yet.")
	}
	return c.JSON(http.StatusOK, lnurl.WithdrawParams{
		Tag: lnurl.TagWithdrawRequest, Callback: s.BaseURL + "/lnurlw/" + k1 + "/callback", K1: k1,
		DefaultDescription: offer.Description, MinWithdrawable: money.MsatPerSat, MaxWithdrawable: offer.Max,
	})
}

// lnurlWithdrawCallback answers a wallet's LNURL-withdraw callback:
// checks k1 and pr, then funding pays the invoice from the link's source.
func (s *Server) lnurlWithdrawCallback(c echo.Context) error {
	k1 := c.Param("k1")
	if q := c.QueryParam("k1"); q != "" && q != k1 {
		return lnurlError(c, http.StatusBadRequest, "k1 does not match")
	}
	pr := c.QueryParam("pr")
	if pr == "" {
		return lnurlError(c, http.StatusBadRequest, "pr is required")
	}
	if _, err := s.Funding.RedeemWithdrawLink(c.Request().Context(), k1, pr); err != nil {
		status := statusOf(apperr.CodeOf(err))
		if status >= 500 {
			s.log.ErrorContext(c.Request().Context(), "lnurl-withdraw", "err", err)
		}
		return lnurlError(c, status, apperr.MessageOf(err))
	}
	return c.JSON(http.StatusOK, lnurl.NewOKResponse())
}

func (s *Server) apiWithdrawLink(c echo.Context) error {
	o, err := s.bearerOwner(c, c.Param("slug"))
	if err != nil {
		return err
	}
	k1, expires, err := s.Funding.NewWithdrawLink(c.Request().Context(), funding.EarnedSource(o))
	if err != nil {
		return err
	}
	return s.withdrawLinkJSON(c, k1, expires)
}
