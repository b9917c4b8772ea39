package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/invest"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/templates"
)

// investPageRoutes adds the investing pages.
func (s *Server) investPageRoutes(e *echo.Echo, invoiceLimit echo.MiddlewareFunc) {
	e.POST("/o/:slug/invest", s.investForm, invoiceLimit)
	e.GET("/portfolio", s.portfolio)
	e.POST("/portfolio/keys", s.portfolioAddKey)
	e.POST("/portfolio/:id/withdraw", s.portfolioWithdraw)
	e.POST("/portfolio/:id/forget", s.portfolioForget)
	e.POST("/portfolio/:id/lnurl-withdraw", s.portfolioWithdrawLink)
	e.GET("/portfolio/:id/receipt", s.portfolioReceipt)
	e.GET("/offerings/:slug/round", s.roundPage)
	e.POST("/offerings/:slug/round/terms", s.roundTerms)
	e.POST("/offerings/:slug/round/open", s.roundOpen)
	e.POST("/offerings/:slug/round/revenue", s.roundRevenue)
}

// The investor's cookie holds the claim keys this browser was given or
// was shown: a browser session may hold several.
const (
	investorCookie  = "ka_investor"
	maxInvestorKeys = 20
)

type investorKeys struct {
	Keys    []string `json:"k"` // "<id>:<claim key>"
	Expires int64    `json:"e"`
}

func (s *Server) readInvestorKeys(c echo.Context) []string {
	ck, err := c.Cookie(investorCookie)
	if err != nil || len(ck.Value) > 4096 {
		return nil
	}
	body, mac, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return nil
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(body)
	got, err2 := base64.RawURLEncoding.DecodeString(mac)
	if err1 != nil || err2 != nil {
		return nil
	}
	m := hmac.New(sha256.New, s.CookieKey)
	m.Write([]byte("investor:"))
	m.Write(payload)
	if !hmac.Equal(got, m.Sum(nil)) {
		return nil
	}
	var v investorKeys
	if json.Unmarshal(payload, &v) != nil || time.Unix(v.Expires, 0).Before(time.Now()) {
		return nil
	}
	return v.Keys
}

func (s *Server) writeInvestorKeys(c echo.Context, keys []string) {
	const ttl = 365 * 24 * time.Hour
	payload, _ := json.Marshal(investorKeys{Keys: keys, Expires: time.Now().Add(ttl).Unix()})
	m := hmac.New(sha256.New, s.CookieKey)
	m.Write([]byte("investor:"))
	m.Write(payload)
	c.SetCookie(&http.Cookie{
		Name: investorCookie, Value: base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)),
		Path: "/", MaxAge: int(ttl / time.Second), HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}

// holdKey adds an investment's key to the browser's, newest first.
func (s *Server) holdKey(c echo.Context, id int64, key string) {
	entry := strconv.FormatInt(id, 10) + ":" + key
	kept := []string{entry}
	for _, k := range s.readInvestorKeys(c) {
		if k != entry && len(kept) < maxInvestorKeys {
			kept = append(kept, k)
		}
	}
	s.writeInvestorKeys(c, kept)
}

// heldInvestment opens the investment in the path with the key the
// browser holds for it.
func (s *Server) heldInvestment(c echo.Context) (invest.Investment, error) {
	id := c.Param("id")
	for _, k := range s.readInvestorKeys(c) {
		if sid, key, ok := strings.Cut(k, ":"); ok && sid == id {
			n, _ := strconv.ParseInt(sid, 10, 64)
			return s.Invest.Open(c.Request().Context(), n, key)
		}
	}
	return invest.Investment{}, apperr.New(apperr.Unauthorized, "This browser holds no claim key for that investment.")
}

func sats(m money.Msat) string { return m.String() }

// investSection is the offering page's investing panel, nil when the
// offering never opened a round.
func (s *Server) investSection(c echo.Context, o offering.Offering) (*templates.InvestSection, error) {
	if s.Invest == nil {
		return nil, nil
	}
	ctx := c.Request().Context()
	r, err := s.Invest.Round(ctx, o.ID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t := r.Terms
	v := &templates.InvestSection{Slug: o.Slug, Open: t.Open, RaisedText: sats(r.RaisedMsat), Investors: r.Investors,
		SharedText: sats(r.SharedMsat), RaisePct: -1, Action: "/o/" + o.Slug + "/invest"}
	v.TermsPlain, v.Example, v.Limits = termsInWords(t)
	if t.RaiseLimitMsat != nil && *t.RaiseLimitMsat > 0 {
		v.RaisePct = int(min(100, int64(r.RaisedMsat)*100/int64(*t.RaiseLimitMsat)))
	}
	backers, err := s.Invest.Backers(ctx, o.ID, 50)
	if err != nil {
		return nil, err
	}
	for _, b := range backers {
		v.Backers = append(v.Backers, templates.BackerRow{Name: b.Name, AmountText: sats(b.AmountMsat)})
	}
	evs, err := s.Invest.Events(ctx, o.ID, 20)
	if err != nil {
		return nil, err
	}
	v.Events = revenueRows(evs)
	return v, nil
}

func revenueRows(evs []invest.Event) []templates.RevenueRow {
	rows := make([]templates.RevenueRow, len(evs))
	for i, e := range evs {
		rows[i] = templates.RevenueRow{When: e.CreatedAt, AmountText: sats(e.AmountMsat), InvestorsText: sats(e.InvestorsMsat),
			RunwayText: sats(e.RunwayMsat), Note: e.Memo}
	}
	return rows
}

// termsInWords says the terms in plain words, with a worked example on
// 100,000 sats (or the largest investment, if smaller).
func termsInWords(t invest.Terms) (terms, example, limits string) {
	share := bpsPercent(t.ShareBps)
	multiple := bpsMultiple(t.CapBps)
	terms = fmt.Sprintf("Investors receive %s of every revenue event, shared pro rata to what each put in, until an investment has received %s its principal. Revenue they cannot take goes to the runway.", share, multiple)
	amount := min(money.MustSats(100_000), t.MaxMsat)
	example = fmt.Sprintf("invest %s, receive %s of every revenue event pro rata until you have received %s.", amount, share, invest.Cap(amount, t.CapBps))
	limits = fmt.Sprintf("From %s to %s per investment.", t.MinMsat, t.MaxMsat)
	if t.RaiseLimitMsat != nil {
		limits = fmt.Sprintf("From %s to %s per investment; the round takes %s in all.", t.MinMsat, t.MaxMsat, *t.RaiseLimitMsat)
	}
	return terms, example, limits
}

func bpsPercent(bps int) string {
	switch bps {
	case 10000:
		return "all"
	case 5000:
		return "half"
	}
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%d.%02d", bps/100, bps%100), "00"), ".") + "%"
}

func bpsMultiple(bps int) string {
	s := fmt.Sprintf("%d.%04d", bps/10000, bps%10000)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "×"
}

// parseSats reads a whole number of sats from a form.
func parseSats(raw string) (money.Msat, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(strings.ReplaceAll(raw, ",", "")), 10, 64)
	if err != nil {
		return 0, false
	}
	m, err := money.FromSats(n)
	return m, err == nil
}

func (s *Server) investForm(c echo.Context) error {
	ctx := c.Request().Context()
	slug := c.Param("slug")
	amount, ok := parseSats(c.FormValue("amount"))
	name, public := c.FormValue("name"), c.FormValue("public") != ""
	var made invest.Made
	var err error = apperr.InvalidFields(map[string]string{"amount_msat": "Give a whole number of sats."})
	if ok {
		made, err = s.Invest.Invest(ctx, invest.InvestRequest{Slug: slug, Amount: amount, Name: name, Public: public, Via: "web"})
	}
	if err != nil {
		if code := apperr.CodeOf(err); code == apperr.Internal || code == apperr.NotFound {
			return err
		}
		o, fin, verr := s.Offerings.View(ctx, slug)
		if verr != nil {
			return verr
		}
		v, verr := s.offeringView(c, o, fin)
		if verr != nil || v.Invest == nil {
			return err
		}
		fields := apperr.FieldsOf(err)
		v.Invest.Amount = templates.FormField{Value: c.FormValue("amount"), Error: fields["amount_msat"]}
		v.Invest.Name = templates.FormField{Value: name, Error: fields["name"]}
		v.Invest.Public = public
		if len(fields) == 0 {
			v.Invest.FormError = apperr.MessageOf(err)
		}
		return s.render(c, statusOf(apperr.CodeOf(err)), templates.Offering(v))
	}
	s.holdKey(c, made.Investment.ID, made.ClaimKey)
	o, err := s.Offerings.Get(ctx, slug)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return s.render(c, http.StatusCreated, templates.InvestCreated(templates.InvestCreatedView{
		Page: s.page(c, "Your claim key"), ClaimKey: made.ClaimKey, OfferingName: o.Name, OfferingURL: "/o/" + o.Slug,
		AmountText: sats(made.Investment.PrincipalMsat), PayURL: "/invoices/" + made.Invoice.PaymentHash,
	}))
}

func (s *Server) portfolio(c echo.Context) error {
	v, err := s.portfolioView(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return s.render(c, http.StatusOK, templates.Portfolio(v))
}

func (s *Server) portfolioView(c echo.Context) (templates.PortfolioView, error) {
	ctx := c.Request().Context()
	v := templates.PortfolioView{Page: s.page(c, "Your investments")}
	for _, k := range s.readInvestorKeys(c) {
		sid, key, _ := strings.Cut(k, ":")
		id, _ := strconv.ParseInt(sid, 10, 64)
		inv, err := s.Invest.Open(ctx, id, key)
		if apperr.CodeOf(err) == apperr.Unauthorized {
			continue // gone
		}
		if err != nil {
			return v, err
		}
		item, err := s.portfolioItem(ctx, inv)
		if err != nil {
			return v, err
		}
		v.Items = append(v.Items, item)
	}
	return v, nil
}

func (s *Server) portfolioItem(ctx context.Context, inv invest.Investment) (templates.PortfolioItem, error) {
	o, err := s.Offerings.GetByID(ctx, inv.OfferingID)
	if err != nil {
		return templates.PortfolioItem{}, err
	}
	p, err := s.Invest.Position(ctx, inv)
	if err != nil {
		return templates.PortfolioItem{}, err
	}
	id := strconv.FormatInt(inv.ID, 10)
	it := templates.PortfolioItem{ID: inv.ID, OfferingName: o.Name, OfferingURL: "/o/" + o.Slug, State: string(inv.State),
		PrincipalText: sats(inv.PrincipalMsat), ReturnedText: sats(inv.ReturnedMsat), CapText: sats(inv.CapMsat),
		PayableText: sats(p.PayableMsat), WithdrawnText: sats(p.WithdrawnMsat), WithdrawAction: "/portfolio/" + id + "/withdraw",
		ForgetAction: "/portfolio/" + id + "/forget", CanWithdraw: p.PayableMsat > 0, LinkAction: "/portfolio/" + id + "/lnurl-withdraw"}
	if inv.CapMsat > 0 {
		it.CapPct = int(int64(inv.ReturnedMsat) * 100 / int64(inv.CapMsat))
	}
	if inv.State == invest.Pending {
		it.PayURL = "/invoices/" + inv.PaymentHash
	} else {
		it.ReceiptURL = "/portfolio/" + id + "/receipt"
	}
	if inv.PayoutDestination != "" {
		it.Standing = fmt.Sprintf("to %s once %s is payable", inv.PayoutDestination, sats(inv.PayoutThresholdMsat))
	}
	points, err := s.Invest.Returns(ctx, inv)
	if err != nil {
		return templates.PortfolioItem{}, err
	}
	it.ChartPoints, it.ChartMax = returnsChart(inv, points)
	payouts, err := s.Invest.Withdrawals(ctx, inv)
	if err != nil {
		return templates.PortfolioItem{}, err
	}
	for _, po := range payouts {
		row := templates.PayoutRow{When: po.CreatedAt, AmountText: sats(po.AmountMsat), State: string(po.State),
			Destination: po.Destination, FailureReason: po.FailureReason}
		if po.State == "succeeded" {
			row.FeeText = sats(po.FeeMsat)
		}
		it.Withdrawals = append(it.Withdrawals, row)
	}
	return it, nil
}

// returnsChart is the polyline of returns over time on a 300×80 box,
// from the investment's start to now, scaled to its cap.
func returnsChart(inv invest.Investment, points []invest.ReturnPoint) (string, string) {
	if len(points) == 0 || inv.ActivatedAt == nil || inv.CapMsat <= 0 {
		return "", ""
	}
	start := inv.ActivatedAt.Unix()
	end := max(points[len(points)-1].At, start+1)
	// Shares that came within a minute of each other (or a frozen clock)
	// are spread evenly, so each step stays visible.
	byIndex := end-start < 60
	step := 0
	xy := func(at int64, total money.Msat) string {
		x := float64(at-start) / float64(end-start) * 300
		if byIndex {
			x = float64(step) / float64(len(points)) * 300
			step++
		}
		y := 80 - float64(total)/float64(inv.CapMsat)*76
		return fmt.Sprintf("%.1f,%.1f", x, y)
	}
	parts := []string{xy(start, 0)}
	for _, p := range points {
		parts = append(parts, xy(p.At, p.Total))
	}
	return strings.Join(parts, " "), sats(inv.CapMsat)
}

func (s *Server) portfolioAddKey(c echo.Context) error {
	key := strings.TrimSpace(c.FormValue("key"))
	inv, err := s.Invest.ByClaimKey(c.Request().Context(), key)
	if err != nil {
		v, verr := s.portfolioView(c)
		if verr != nil {
			return verr
		}
		v.Key.Error = apperr.MessageOf(err)
		return s.render(c, statusOf(apperr.CodeOf(err)), templates.Portfolio(v))
	}
	s.holdKey(c, inv.ID, key)
	return c.Redirect(http.StatusSeeOther, "/portfolio")
}

func (s *Server) portfolioWithdraw(c echo.Context) error {
	inv, err := s.heldInvestment(c)
	if err != nil {
		return err
	}
	dest := c.FormValue("destination")
	if _, err := s.Invest.Withdraw(c.Request().Context(), inv, dest); err != nil {
		if apperr.CodeOf(err) == apperr.Internal {
			return err
		}
		v, verr := s.portfolioView(c)
		if verr != nil {
			return verr
		}
		for i := range v.Items {
			if v.Items[i].ID == inv.ID {
				msg := apperr.FieldsOf(err)["destination"]
				if msg == "" {
					msg = apperr.MessageOf(err)
				}
				v.Items[i].Destination = templates.FormField{Value: dest, Error: msg}
			}
		}
		return s.render(c, statusOf(apperr.CodeOf(err)), templates.Portfolio(v))
	}
	return c.Redirect(http.StatusSeeOther, "/portfolio")
}

func (s *Server) portfolioForget(c echo.Context) error {
	id := c.Param("id")
	var kept []string
	for _, k := range s.readInvestorKeys(c) {
		if !strings.HasPrefix(k, id+":") {
			kept = append(kept, k)
		}
	}
	s.writeInvestorKeys(c, kept)
	return c.Redirect(http.StatusSeeOther, "/portfolio")
}

func (s *Server) portfolioReceipt(c echo.Context) error {
	inv, err := s.heldInvestment(c)
	if err != nil {
		return err
	}
	r, err := s.receipt(c.Request().Context(), inv)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="investment-%d-receipt.json"`, inv.ID))
	return c.JSON(http.StatusOK, map[string]string{"receipt": r, "jwks": s.BaseURL + "/.well-known/jwks.json"})
}

// ownedRound is the offering in the path, if the session owns it.
func (s *Server) ownedRound(c echo.Context) (offering.Offering, error) {
	o, ok, err := s.owns(c, c.Param("slug"))
	if err != nil {
		return offering.Offering{}, err
	}
	if !ok {
		return offering.Offering{}, apperr.New(apperr.Unauthorized, "Sign in with this offering's manage key first.")
	}
	return o, nil
}

func (s *Server) roundView(c echo.Context, o offering.Offering) (templates.RoundView, error) {
	ctx := c.Request().Context()
	base := "/offerings/" + o.Slug + "/round"
	v := templates.RoundView{Page: s.page(c, "Investment round"), Slug: o.Slug, Name: o.Name, TermsAction: base + "/terms",
		OpenAction: base + "/open", RevenueAction: base + "/revenue"}
	v.ShareBps.Value, v.CapBps.Value, v.MinSats.Value, v.MaxSats.Value = "5000", "15000", "1000", "1000000"
	r, err := s.Invest.Round(ctx, o.ID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return v, nil
	}
	if err != nil {
		return v, err
	}
	t := r.Terms
	v.HasTerms, v.Open = true, t.Open
	v.ShareBps.Value, v.CapBps.Value = strconv.Itoa(t.ShareBps), strconv.Itoa(t.CapBps)
	v.MinSats.Value, v.MaxSats.Value = strconv.FormatInt(t.MinMsat.Sats(), 10), strconv.FormatInt(t.MaxMsat.Sats(), 10)
	if t.RaiseLimitMsat != nil {
		v.RaiseLimitSats.Value = strconv.FormatInt(t.RaiseLimitMsat.Sats(), 10)
	}
	v.RaisedText, v.SharedText, v.RevenueText, v.Investors = sats(r.RaisedMsat), sats(r.SharedMsat), sats(r.RevenueMsat), r.Investors
	fin, err := s.Offerings.Finances(ctx, o)
	if err != nil {
		return v, err
	}
	v.EarnedText = sats(fin.Earned)
	evs, err := s.Invest.Events(ctx, o.ID, 50)
	if err != nil {
		return v, err
	}
	v.Events = revenueRows(evs)
	return v, nil
}

func (s *Server) roundPage(c echo.Context) error {
	o, err := s.ownedRound(c)
	if err != nil {
		return err
	}
	v, err := s.roundView(c, o)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, templates.Round(v))
}

// roundError shows the round page again with what went wrong.
func (s *Server) roundError(c echo.Context, o offering.Offering, err error, fill func(v *templates.RoundView, fields map[string]string)) error {
	if apperr.CodeOf(err) == apperr.Internal {
		return err
	}
	v, verr := s.roundView(c, o)
	if verr != nil {
		return verr
	}
	fields := apperr.FieldsOf(err)
	fill(&v, fields)
	if len(fields) == 0 {
		v.FormError = apperr.MessageOf(err)
	}
	return s.render(c, statusOf(apperr.CodeOf(err)), templates.Round(v))
}

func (s *Server) roundTerms(c echo.Context) error {
	o, err := s.ownedRound(c)
	if err != nil {
		return err
	}
	problems := map[string]string{}
	num := func(field, key string) *int {
		n, err := strconv.Atoi(strings.TrimSpace(c.FormValue(field)))
		if err != nil {
			problems[key] = "Give a whole number."
			return nil
		}
		return &n
	}
	msat := func(field, key string, optional bool) *money.Msat {
		raw := strings.TrimSpace(c.FormValue(field))
		if raw == "" && optional {
			return nil
		}
		m, ok := parseSats(raw)
		if !ok {
			problems[key] = "Give a whole number of sats."
			return nil
		}
		return &m
	}
	in := invest.TermsInput{ShareBps: num("share", "share_bps"), CapBps: num("cap", "cap_bps"), MinMsat: msat("min", "min_msat", false),
		MaxMsat: msat("max", "max_msat", false), RaiseLimitMsat: msat("limit", "raise_limit_msat", true)}
	if prev, err := s.Invest.Terms(c.Request().Context(), o.ID); err == nil {
		in.Open = &prev.Open
	}
	err = apperr.InvalidFields(problems)
	if len(problems) == 0 {
		_, err = s.Invest.SetTerms(c.Request().Context(), o.ID, in)
	}
	if err != nil {
		return s.roundError(c, o, err, func(v *templates.RoundView, f map[string]string) {
			v.ShareBps = templates.FormField{Value: c.FormValue("share"), Error: f["share_bps"]}
			v.CapBps = templates.FormField{Value: c.FormValue("cap"), Error: f["cap_bps"]}
			v.MinSats = templates.FormField{Value: c.FormValue("min"), Error: f["min_msat"]}
			v.MaxSats = templates.FormField{Value: c.FormValue("max"), Error: f["max_msat"]}
			v.RaiseLimitSats = templates.FormField{Value: c.FormValue("limit"), Error: f["raise_limit_msat"]}
		})
	}
	return c.Redirect(http.StatusSeeOther, "/offerings/"+o.Slug+"/round")
}

func (s *Server) roundOpen(c echo.Context) error {
	o, err := s.ownedRound(c)
	if err != nil {
		return err
	}
	if _, err := s.Invest.SetOpen(c.Request().Context(), o.ID, c.FormValue("open") == "1"); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/offerings/"+o.Slug+"/round")
}

func (s *Server) roundRevenue(c echo.Context) error {
	o, err := s.ownedRound(c)
	if err != nil {
		return err
	}
	amount, ok := parseSats(c.FormValue("amount"))
	req := invest.RevenueRequest{Amount: amount, Note: c.FormValue("note"), From: c.FormValue("from")}
	var rep invest.Reported
	err = error(apperr.InvalidFields(map[string]string{"amount_msat": "Give a whole number of sats."}))
	if ok {
		rep, err = s.Invest.ReportRevenue(c.Request().Context(), o, req)
	}
	if err != nil {
		return s.roundError(c, o, err, func(v *templates.RoundView, f map[string]string) {
			v.RevenueSats = templates.FormField{Value: c.FormValue("amount"), Error: f["amount_msat"]}
			v.RevenueNote.Value, v.FromEarned = req.Note, req.From != ""
		})
	}
	if rep.Invoice != nil {
		return c.Redirect(http.StatusSeeOther, "/invoices/"+rep.Invoice.PaymentHash)
	}
	return c.Redirect(http.StatusSeeOther, "/offerings/"+o.Slug+"/round")
}

// portfolioWithdrawLink shows the portfolio with a one-time LNURL-withdraw
// QR code for one investment.
func (s *Server) portfolioWithdrawLink(c echo.Context) error {
	inv, err := s.heldInvestment(c)
	if err != nil {
		return err
	}
	k1, _, err := s.Invest.NewWithdrawLink(c.Request().Context(), inv)
	if err != nil {
		return err
	}
	code, _ := s.withdrawLinkCode(k1)
	v, err := s.portfolioView(c)
	if err != nil {
		return err
	}
	for i := range v.Items {
		if v.Items[i].ID == inv.ID {
			v.Items[i].LNURL, v.Items[i].LNURLQR = code, s.qr.svg("lightning:"+code, 240)
		}
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return s.render(c, http.StatusOK, templates.Portfolio(v))
}
