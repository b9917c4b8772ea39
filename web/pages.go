package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/funding"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
	"github.com/keepalive/keepalive/templates"
)

const homePageSize = 20

// maxHomePage is the deepest page a page number reaches (?page=N, which
// reads by position). The links the list makes name an offering instead
// (?after=id, ?before=id), and those cost the same at any depth.
const maxHomePage = 50

// home lists offerings a page at a time. "Next" names the last offering
// shown and "Previous" the first, so paging never walks the offerings
// before the page. A cursor, or a page number, that does not fit (0, past
// the end, not a number, an unknown offering) shows the nearest page there
// is, not an error or an empty list.
func (s *Server) home(c echo.Context) error {
	q := strings.TrimSpace(c.QueryParam("q"))
	pageNo, _ := strconv.Atoi(c.QueryParam("page"))
	pageNo = min(max(pageNo, 1), maxHomePage)
	ctx := c.Request().Context()
	lq := offering.ListQuery{Search: q, Limit: homePageSize, Offset: (pageNo - 1) * homePageSize,
		After: cursorParam(c, "after"), Before: cursorParam(c, "before")}
	if lq.After > 0 || lq.Before > 0 {
		lq.Offset = 0
	}
	page, err := s.Offerings.Page(ctx, lq)
	if err != nil {
		return err
	}
	switch {
	case len(page.Offerings) == 0 && lq.Offset > 0:
		// Past the end by number: only then count, to find the last page.
		_, total, err := s.Offerings.List(ctx, offering.ListQuery{Search: q, Limit: 1})
		if err != nil {
			return err
		}
		last := min(max(1, int((total+homePageSize-1)/homePageSize)), maxHomePage)
		page, err = s.Offerings.Page(ctx, offering.ListQuery{Search: q, Limit: homePageSize, Offset: (last - 1) * homePageSize})
		if err != nil {
			return err
		}
	case (lq.After > 0 && len(page.Offerings) == 0) || (lq.Before > 0 && !page.Prev):
		// Nothing after the cursor (the list moved), or the start reached
		// going back: the first page, whole.
		if page, err = s.Offerings.Page(ctx, offering.ListQuery{Search: q, Limit: homePageSize}); err != nil {
			return err
		}
	}
	v := templates.HomeView{Page: s.page(c, "Keep things alive"), Query: q}
	for _, it := range page.Offerings {
		v.Offerings = append(v.Offerings, card(it.Offering, it.Status))
	}
	link := func(param string, id int64) string {
		vals := url.Values{param: {strconv.FormatInt(id, 10)}}
		if q != "" {
			vals.Set("q", q)
		}
		return "/?" + vals.Encode()
	}
	if n := len(page.Offerings); n > 0 {
		if page.Next {
			v.NextPage = link("after", page.Offerings[n-1].ID)
		}
		if page.Prev {
			v.PrevPage = link("before", page.Offerings[0].ID)
		}
	}
	return s.render(c, http.StatusOK, templates.Home(v))
}

// cursorParam reads an offering id from the query, 0 when there is none
// or it is not one.
func cursorParam(c echo.Context, name string) int64 {
	id, err := strconv.ParseInt(c.QueryParam(name), 10, 64)
	if err != nil || id < 0 {
		return 0
	}
	return id
}

func (s *Server) offeringPage(c echo.Context) error {
	o, fin, err := s.Offerings.View(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	v, err := s.offeringView(c, o, fin)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, templates.Offering(v))
}

// offeringView is the offering page for o, with a fresh donation form.
func (s *Server) offeringView(c echo.Context, o offering.Offering, fin offering.Finances) (templates.OfferingView, error) {
	_, isOwner, err := s.owns(c, o.Slug)
	if err != nil {
		return templates.OfferingView{}, err
	}
	v := templates.OfferingView{
		Page:           s.page(c, o.Name),
		Offering:       card(o, fin.Status),
		GraceText:      humanDurationSeconds(o.GraceSeconds),
		RunwayMsatText: fin.Status.RunwayMsat.Display(),
		EarnedText:     fin.EarnedTotal.Display(),
		IsOwner:        isOwner,
		CreatedAt:      o.CreatedAt,
		Donate:         s.donateForm(o),
	}
	s.payFromWallet(&v, o)
	if v.Invest, err = s.investSection(c, o); err != nil {
		return templates.OfferingView{}, err
	}
	if v.Sponsors, err = s.sponsorsBox(c.Request().Context(), o); err != nil {
		return templates.OfferingView{}, err
	}
	if v.History, err = s.historyView(c.Request().Context(), o, fin.Status); err != nil {
		return templates.OfferingView{}, err
	}
	v.GoalText = goalText(o, fin.Status, v.History.Payments)
	v.Page.Preview = &templates.Preview{Title: o.Name, URL: s.BaseURL + "/o/" + url.PathEscape(o.Slug),
		Description: previewText(o, fin.Status)}
	return v, nil
}

// monthHours is the month the goal line measures against: 30 days.
const monthHours = 30 * 24

// goalText is the goal line: how much of a month's running cost the
// runway covers, and how many payments it took.
func goalText(o offering.Offering, st offering.Status, payments int64) string {
	pct := int64(0)
	if month, err := money.MulDiv(o.BurnRateMsatPerHour, monthHours, 1); err == nil && month > 0 {
		if p, err := money.MulDiv(max(st.RunwayMsat, 0), 100, int64(month)); err == nil {
			pct = min(int64(p), 100)
		}
	}
	return fmt.Sprintf("Funded %d%% of this month's cost · %s so far", pct, plural(payments, "payment"))
}

// previewText is what a link preview says about o.
func previewText(o offering.Offering, st offering.Status) string {
	state := "Not funded yet: the first payment brings it to life."
	if st.Alive() {
		state = "Funded until " + templates.FormatDate(st.FundedUntil) + "."
	} else if !st.FundedUntil.IsZero() {
		state = "Ran out on " + templates.FormatDate(st.FundedUntil) + ": a payment revives it."
	}
	desc := o.Description
	if r := []rune(desc); len(r) > 160 {
		desc = string(r[:157]) + "…"
	}
	if desc != "" {
		return desc + " — " + state
	}
	return "Keep " + o.Name + " alive with Lightning. " + state
}

func humanDurationSeconds(sec int64) string {
	if sec == 0 {
		return "none"
	}
	return humanDuration(secondsDuration(sec))
}

func (s *Server) newOfferingForm(c echo.Context) error {
	f := templates.OfferingForm{Page: s.page(c, "List an offering")}
	withLimits(&f)
	f.BurnUnit.Value = "day"
	f.GraceHours.Value = "24"
	return s.render(c, http.StatusOK, templates.OfferingFormPage(f))
}

// offeringFormInput reads the create/edit form. Field problems that are
// about the form itself (a burn amount that is not a number) are returned
// alongside, keyed like the domain's.
func offeringFormInput(c echo.Context, create bool) (offering.Input, templates.OfferingForm, map[string]string) {
	var f templates.OfferingForm
	problems := map[string]string{}
	get := func(name string) string { return strings.TrimSpace(c.FormValue(name)) }
	f.Name.Value, f.SlugField.Value, f.URL.Value = get("name"), strings.ToLower(get("slug")), get("url")
	f.Description.Value, f.BurnAmount.Value, f.BurnUnit.Value, f.GraceHours.Value = c.FormValue("description"), get("burn_amount"), get("burn_unit"), get("grace_hours")

	withLimits(&f)
	in := offering.Input{Name: &f.Name.Value, URL: &f.URL.Value, Description: &f.Description.Value}
	if create {
		in.Slug = &f.SlugField.Value
	}
	if f.BurnUnit.Value == "" {
		f.BurnUnit.Value = "day"
	}
	in.BurnUnit = &f.BurnUnit.Value
	if rate, msg := burnRate(f.BurnAmount.Value, f.BurnUnit.Value); msg != "" {
		problems["burn_rate_msat_per_hour"] = msg
	} else {
		in.BurnRateMsatPerHour = &rate
	}
	if f.GraceHours.Value == "" {
		f.GraceHours.Value = "0"
	}
	if h, err := strconv.ParseInt(f.GraceHours.Value, 10, 64); err != nil || h < 0 || h > offering.MaxGraceSeconds/3600 {
		problems["grace_seconds"] = "Give the grace period in whole hours, from 0 to 2160 (90 days)."
	} else {
		g := h * 3600
		in.GraceSeconds = &g
	}
	return in, f, problems
}

// withLimits gives the form's text fields the limits the domain checks.
func withLimits(f *templates.OfferingForm) {
	f.Name.Max, f.Description.Max = offering.NameField.Max, offering.DescriptionField.Max
}

// burnRate turns "what it costs" as people say it (an amount of sats per
// hour, day or month of 30 days) into msat per hour, rounded to the
// nearest msat.
func burnRate(amount, unit string) (money.Msat, string) {
	if amount == "" {
		return 0, "Say what it costs to run."
	}
	m, err := money.ParseWholeSats(amount)
	if err != nil {
		return 0, apperr.MessageOf(err)
	}
	hours := unitHours(unit)
	if hours == 0 {
		return 0, "Choose per hour, per day or per month."
	}
	rate := (m + money.Msat(hours/2)) / money.Msat(hours)
	if rate < 1 {
		return 0, "The running cost must be more than zero."
	}
	return rate, ""
}

// unitHours is how many hours a burn-rate unit is; 0 for no unit.
func unitHours(unit string) int64 {
	switch unit {
	case "hour":
		return 1
	case "day", "":
		return 24
	case "month":
		return 30 * 24
	}
	return 0
}

// applyProblems copies per-field problems onto the form's fields.
func applyProblems(f *templates.OfferingForm, problems map[string]string) {
	for field, msg := range problems {
		switch field {
		case "name":
			f.Name.Error = msg
		case "slug":
			f.SlugField.Error = msg
		case "url":
			f.URL.Error = msg
		case "description":
			f.Description.Error = msg
		case "burn_rate_msat_per_hour", "burn_unit":
			f.BurnAmount.Error = msg
		case "grace_seconds":
			f.GraceHours.Error = msg
		default:
			f.FormError = msg
		}
	}
}

// formProblemsText heads a form with problems: one wording, whichever
// check found them.
const formProblemsText = "Some values need another look."

// checkOfferingForm adds the domain's verdict on in to the form's own
// problems, so that one submit reports every problem at once.
func checkOfferingForm(in offering.Input, create bool, problems map[string]string) {
	for field, msg := range offering.Check(in, create) {
		if _, ok := problems[field]; !ok {
			problems[field] = msg
		}
	}
}

func (s *Server) createOffering(c echo.Context) error {
	in, f, problems := offeringFormInput(c, true)
	f.Page = s.page(c, "List an offering")
	if f.SlugField.Value == "" {
		// Suggested from the name; the form says the address before it is
		// taken for good, and JavaScript fills it in as the name is typed.
		f.SlugField.Value = offering.SuggestSlug(f.Name.Value)
		in.Slug = &f.SlugField.Value
	}
	checkOfferingForm(in, true, problems)
	if len(problems) > 0 {
		applyProblems(&f, problems)
		f.FormError = formProblemsText
		return s.render(c, http.StatusUnprocessableEntity, templates.OfferingFormPage(f))
	}
	o, key, err := s.Offerings.Create(c.Request().Context(), in)
	if fields := apperr.FieldsOf(err); fields != nil {
		applyProblems(&f, fields)
		f.FormError = formProblemsText
		return s.render(c, statusOf(apperr.CodeOf(err)), templates.OfferingFormPage(f))
	}
	if err != nil {
		return err
	}
	st, err := s.Offerings.Status(c.Request().Context(), o.Slug)
	if err != nil {
		return err
	}
	if err := s.signInTo(c, o); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	v := templates.CreatedView{Page: s.page(c, "Listed: "+o.Name), Offering: card(o, st), ManageKey: key, DashboardURL: "/dashboard",
		Host: s.hostSnippets(o)}
	v.Page.SignedIn = true
	return s.render(c, http.StatusCreated, templates.Created(v))
}

func (s *Server) editOfferingForm(c echo.Context) error {
	o, err := s.requireOwner(c)
	if err != nil {
		return err
	}
	f := templates.OfferingForm{Page: s.page(c, "Edit "+o.Name), Editing: true, Slug: o.Slug}
	withLimits(&f)
	f.Name.Value, f.SlugField.Value, f.URL.Value, f.Description.Value = o.Name, o.Slug, o.URL, o.Description
	f.BurnUnit.Value = burnUnit(o)
	f.BurnAmount.Value = money.FormatSats(roundSats(o.BurnRateMsatPerHour * money.Msat(unitHours(f.BurnUnit.Value))))
	f.GraceHours.Value = strconv.FormatInt(o.GraceSeconds/3600, 10)
	return s.render(c, http.StatusOK, templates.OfferingFormPage(f))
}

func (s *Server) updateOffering(c echo.Context) error {
	o, err := s.requireOwner(c)
	if err != nil {
		return err
	}
	in, f, problems := offeringFormInput(c, false)
	f.Page, f.Editing, f.Slug, f.SlugField.Value = s.page(c, "Edit "+o.Name), true, o.Slug, o.Slug
	if in.BurnRateMsatPerHour != nil && f.BurnUnit.Value == burnUnit(o) && *in.BurnRateMsatPerHour == roundedIn(o.BurnRateMsatPerHour, burnUnit(o)) {
		// The form shows the rate rounded to whole sats in its unit; saving
		// the form unchanged must not nudge the stored rate.
		in.BurnRateMsatPerHour = nil
	}
	checkOfferingForm(in, false, problems)
	if len(problems) > 0 {
		applyProblems(&f, problems)
		f.FormError = formProblemsText
		return s.render(c, http.StatusUnprocessableEntity, templates.OfferingFormPage(f))
	}
	_, err = s.Offerings.Update(c.Request().Context(), o.Slug, in)
	if fields := apperr.FieldsOf(err); fields != nil {
		applyProblems(&f, fields)
		f.FormError = formProblemsText
		return s.render(c, statusOf(apperr.CodeOf(err)), templates.OfferingFormPage(f))
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard")
}

// roundedIn is the per-hour rate the edit form yields when saved as
// shown (whole sats per unit).
func roundedIn(perHour money.Msat, unit string) money.Msat {
	rate, _ := burnRate(money.FormatSats(roundSats(perHour*money.Msat(unitHours(unit)))), unit)
	return rate
}

// burnUnit is the unit o's owner gave its running cost in.
func burnUnit(o offering.Offering) string {
	if o.BurnUnit == "" {
		return "day"
	}
	return o.BurnUnit
}

// requireOwner returns the offering named in the path if the session may
// manage it.
func (s *Server) requireOwner(c echo.Context) (offering.Offering, error) {
	o, ok, err := s.owns(c, c.Param("slug"))
	if err != nil {
		return offering.Offering{}, err
	}
	if !ok {
		if c.Request().Method == http.MethodGet || c.Request().Method == http.MethodHead {
			// A page: sign in, then come back here.
			return offering.Offering{}, signInFirst(c)
		}
		return offering.Offering{}, apperr.New(apperr.Forbidden, "Sign in with this offering's manage key to change it.")
	}
	return o, nil
}

// errSignInFirst is returned by a handler that has already sent the
// browser to sign in: there is nothing left to render.
var errSignInFirst = errors.New("web: sent to sign in")

// signInFirst redirects to the sign-in page, which brings the owner back
// to this page afterwards.
func signInFirst(c echo.Context) error {
	if err := c.Redirect(http.StatusSeeOther, "/signin?next="+url.QueryEscape(c.Request().URL.RequestURI())); err != nil {
		return err
	}
	return errSignInFirst
}

func (s *Server) signInForm(c echo.Context) error {
	v := templates.SignInView{Page: s.page(c, "Sign in"), Next: safeNext(c.QueryParam("next"))}
	if err := s.signInWallet(c, &v); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.render(c, http.StatusOK, templates.SignIn(v))
}

func (s *Server) signIn(c echo.Context) error {
	key := strings.TrimSpace(c.FormValue("manage_key"))
	next := safeNext(c.FormValue("next"))
	o, err := s.Offerings.ByManageKey(c.Request().Context(), key)
	if apperr.Is(err, apperr.Unauthorized) {
		v := templates.SignInView{Page: s.page(c, "Sign in"), Error: apperr.MessageOf(err), Next: next}
		if werr := s.signInWallet(c, &v); werr != nil {
			return werr
		}
		return s.render(c, http.StatusUnauthorized, templates.SignIn(v))
	}
	if err != nil {
		return err
	}
	if err := s.signInTo(c, o); err != nil {
		return err
	}
	if next == "" {
		next = "/dashboard"
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// safeNext keeps only a path of this site, so a sign-in link cannot send
// people elsewhere. Browsers forgive a lot when they resolve a Location
// (they drop tabs and newlines, read a backslash as a slash and "//" as a
// host), so the allowed form is narrow: printable ASCII (anything else
// must be percent-encoded), starting with one slash, no "//" and no
// backslash anywhere, and parsing as a bare path.
func safeNext(next string) string {
	if len(next) > 512 || !strings.HasPrefix(next, "/") || strings.Contains(next, "//") || strings.Contains(next, "\\") {
		return ""
	}
	for i := 0; i < len(next); i++ {
		if next[i] <= ' ' || next[i] >= 0x7f {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return ""
	}
	return next
}

// signOut ends this browser's session on the server: a copy of the
// cookie stops working too.
func (s *Server) signOut(c echo.Context) error {
	if err := s.Offerings.SignOut(c.Request().Context(), s.sessionToken(c)); err != nil {
		return err
	}
	s.clearSession(c)
	return c.Redirect(http.StatusSeeOther, "/")
}

// signOutEverywhere ends every session that manages any of this
// session's offerings: for a lost phone or a shared computer.
func (s *Server) signOutEverywhere(c echo.Context) error {
	if err := s.Offerings.SignOutEverywhere(c.Request().Context(), s.sessionToken(c)); err != nil {
		return err
	}
	s.clearSession(c)
	return c.Redirect(http.StatusSeeOther, "/")
}

func (s *Server) dashboard(c echo.Context) error {
	v, err := s.dashboardView(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, templates.Dashboard(v))
}

// dashboardView is the signed-in owner's offerings with their money and
// activity.
func (s *Server) dashboardView(c echo.Context) (templates.DashboardView, error) {
	owned, err := s.ownedOfferings(c)
	if err != nil {
		return templates.DashboardView{}, err
	}
	if len(owned) == 0 {
		return templates.DashboardView{}, signInFirst(c)
	}
	v := templates.DashboardView{Page: s.page(c, "Dashboard")}
	for _, o := range owned {
		fin, err := s.Offerings.Finances(c.Request().Context(), o)
		if err != nil {
			return v, err
		}
		base := "/offerings/" + url.PathEscape(o.Slug)
		withdrawable := funding.MaxPayable(fin.Earned)
		item := templates.DashboardItem{
			Offering: card(o, fin.Status), RunwayMsatText: fin.Status.RunwayMsat.Display(),
			EarnedText: fin.EarnedTotal.Display(), BurnRateText: perDay(o.BurnRateMsatPerHour),
			EditURL: base + "/edit", WalletURL: base + "/wallet",
			RotateAction: base + "/rotate-key", WithdrawableText: withdrawable.Display(),
		}
		item.Host = s.hostSnippets(o)
		if withdrawable >= money.MsatPerSat {
			item.WithdrawURL = base + "/withdraw"
		}
		if err := s.fillActivity(c, o, &item); err != nil {
			return v, err
		}
		if item.SponsorBids, err = s.ownerBids(c.Request().Context(), o); err != nil {
			return v, err
		}
		v.Items = append(v.Items, item)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return v, nil
}

// fillActivity adds an offering's recent payments and webhook deliveries
// to its dashboard item.
func (s *Server) fillActivity(c echo.Context, o offering.Offering, item *templates.DashboardItem) error {
	ctx := c.Request().Context()
	if s.Funding != nil {
		credits, err := s.Funding.RecentCredits(ctx, o.ID, 10)
		if err != nil {
			return err
		}
		for _, inv := range credits {
			row := templates.FundingRow{AmountText: inv.PaidMsat.Display(), From: "Anonymous"}
			if inv.SettledAt != nil {
				row.When = *inv.SettledAt
			}
			// Names and messages are the donor's to publish: the owner sees
			// them only when the donor made them public.
			if inv.Public && inv.PayerName != "" {
				row.From = inv.PayerName
			}
			if inv.Public {
				row.Message = inv.PayerMessage
			}
			item.RecentFunding = append(item.RecentFunding, row)
		}
	}
	if s.Webhooks != nil {
		deliveries, err := s.Webhooks.Recent(ctx, o.ID, 10)
		if err != nil {
			return err
		}
		for _, d := range deliveries {
			row := templates.DeliveryRow{When: d.CreatedAt, Event: string(d.Event), State: string(d.State), Attempts: d.Attempts}
			if d.LastStatus != 0 {
				row.Result = strconv.Itoa(d.LastStatus)
			} else if d.LastError != "" {
				row.Result = d.LastError
			}
			item.Deliveries = append(item.Deliveries, row)
		}
	}
	return nil
}
