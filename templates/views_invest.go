package templates

import (
	"net/url"
	"time"
)

// InvestSection is the investing part of an offering page: the terms in
// plain words with a worked example, the round's progress, the backers,
// the revenue shared so far and the form to invest.
type InvestSection struct {
	Slug       string
	Open       bool
	TermsPlain string // who gets what, in a sentence
	Example    string // "Invest 100,000 sats: receive …"
	Limits     string // per investment and for the round
	RaisedText string
	RaisePct   int // toward the raise limit; -1 when there is none
	Investors  int64
	SharedText string
	Backers    []BackerRow
	Events     []RevenueRow
	Action     string // POST target of the form
	Amount     FormField
	Name       FormField
	Public     bool
	FormError  string
}

// BackerRow is one paid investment on the backers list.
type BackerRow struct {
	Name       string // "" shows "Anonymous"
	AmountText string
}

// RevenueRow is one revenue event, as the public sees it.
type RevenueRow struct {
	When          time.Time
	AmountText    string
	InvestorsText string
	RunwayText    string
	Note          string
}

// InvestCreatedView shows a new investment's claim key, once.
type InvestCreatedView struct {
	Page
	ClaimKey     string
	OfferingName string
	OfferingURL  string
	AmountText   string
	PayURL       string
}

// PortfolioView lists the investments a browser holds claim keys for.
type PortfolioView struct {
	Page
	Items     []PortfolioItem
	Key       FormField // sign in with a claim key
	FormError string
}

// PortfolioItem is one investment on the portfolio page.
type PortfolioItem struct {
	ID             int64
	OfferingName   string
	OfferingURL    string
	State          string // pending, active, capped
	PrincipalText  string
	ReturnedText   string
	CapText        string
	CapPct         int
	PayableText    string
	WithdrawnText  string
	ChartPoints    string // SVG polyline points of returns over time, "" when none
	ChartMax       string
	Withdrawals    []PayoutRow
	WithdrawAction string
	Destination    FormField
	CanWithdraw    bool
	PayURL         string // while pending
	ReceiptURL     string
	ForgetAction   string
	Standing       string // "to you@wallet.example from 10,000 sats", or ""
}

// RoundView is the owner's page of an offering's investment round.
type RoundView struct {
	Page
	Slug, Name                             string
	HasTerms, Open                         bool
	ShareBps, CapBps, MinSats, MaxSats     FormField
	RaiseLimitSats                         FormField
	RaisedText, SharedText, RevenueText    string
	Investors                              int64
	Events                                 []RevenueRow
	TermsAction, OpenAction, RevenueAction string
	RevenueSats, RevenueNote               FormField
	FromEarned                             bool
	FormError                              string
	EarnedText                             string
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func openLabel(open bool) string {
	if open {
		return "open to new investments"
	}
	return "closed"
}

func portfolioStateClass(state string) string {
	switch state {
	case "active":
		return "alive"
	case "capped":
		return "grace"
	}
	return "none"
}

func roundPath(slug string) string { return "/offerings/" + url.PathEscape(slug) + "/round" }
