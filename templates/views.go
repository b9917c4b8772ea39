// Package templates owns the HTML of the site: templ components for every
// page and the plain view structs the web handlers fill for them. It knows
// nothing of the domain: handlers turn domain values into these views,
// already formatted for people.
package templates

import "time"

// Page is what every page needs.
type Page struct {
	Title     string
	CSRFToken string
	Demo      bool // show the "payments are simulated" banner
	SignedIn  bool // an owner session exists
	Flash     string
	BaseURL   string
	Path      string // current path, for the nav
	// RefreshSeconds, when positive, reloads the page that often for
	// visitors without JavaScript (a <noscript> meta refresh), so a page
	// that waits for something, like an open invoice, still moves on.
	RefreshSeconds int
	// Preview, when set, is what link previews (OpenGraph, Twitter) show.
	Preview *Preview
}

// Preview is a page's link preview: title, description and canonical URL.
type Preview struct {
	Title, Description, URL string
}

// OfferingCard is an offering as lists and pages show it.
type OfferingCard struct {
	Slug, Name, URL, Description string
	State                        string    // "alive" | "grace" | "expired"
	FundedUntil                  time.Time // zero = never funded
	RunwaySeconds                int64
	RunwayText                   string    // e.g. "23 days"
	BurnPerDay                   string    // "2,400 sats/day"
	RunwayPercent                int       // 0..100 for the bar, of a 30-day scale
	GraceEndsAt                  time.Time // when it stops running (FundedUntil + grace); zero = never funded
}

// HomeView is the list of offerings, with search and pagination.
type HomeView struct {
	Page
	Query              string
	Offerings          []OfferingCard
	NextPage, PrevPage string // "" if none, else href
}

// OfferingView is an offering's public page.
type OfferingView struct {
	Page
	Offering       OfferingCard
	GraceText      string
	RunwayMsatText string
	EarnedText     string
	IsOwner        bool
	CreatedAt      time.Time
	GoalText       string // "Funded 61% of this month's cost · 12 payments so far"

	Donate           DonateForm // Action "" shows a "coming soon" box instead
	LightningAddress string     // "slug@host"
	LNURL            string     // "LNURL1..." (upper case)
	LNURLQR          string     // trusted SVG markup from qrsvg, rendered raw
	History          HistoryView
	Invest           *InvestSection // nil when the offering takes no investment
	Sponsors         SponsorsBox
}

// DonatePreset is one of the amounts offered on the donate form.
type DonatePreset struct {
	Sats  int64
	Label string // "2,100 sats"
	Buys  string // "≈ 3 days of runway"
	Fiat  string // "≈ $1.90", "" unless the operator set a price
}

// DonateForm is the donation form of an offering page: preset amounts or
// a custom one, an optional name and message, anonymous by default.
type DonateForm struct {
	Action        string         // POST target, "/o/{slug}/donate"
	Presets       []DonatePreset // radio buttons name="amount" value="<sats>", plus value="custom"
	Custom        FormField      // input name="custom_amount" (sats; used when amount=custom)
	Selected      string         // the checked amount radio ("" → the second preset)
	Name, Message FormField      // input name="name", textarea name="message"
	Public        bool           // checkbox name="public" value="1"
	FormError     string
	MinText       string // "1 sat"
	MaxText       string // "10,000,000 sats"
}

// InvoiceView is an invoice to pay, at /invoices/{hash}.
type InvoiceView struct {
	Page
	Offering                    OfferingCard
	PaymentHash, PaymentRequest string
	AmountText                  string // "2,100 sats"
	State                       string // "open" | "settled" | "expired" (anything else reads as expired)
	ExpiresAt                   time.Time
	// Now is the time the countdown is measured from; zero means the
	// clock at render time. Tests and a handler with an injected clock
	// set it.
	Now           time.Time
	QR            string // trusted SVG markup of "lightning:<BOLT11>", rendered raw
	LightningURI  string // "lightning:lnbc..."
	PaidText      string // "Paid — thank you! … is alive until …" (when settled)
	DemoPayAction string // when set (demo mode, open): the "Pay it (simulated)" form's target
	EventsURL     string // SSE stream of "paid" / "expired": "/invoices/{hash}/events"
	OfferingURL   string // back link
	WallText      string // how the gift shows on the donor wall, said before paying
	ShareURL      string // the offering's full URL, to pass on once paid
}

// FormField is one form value and what is wrong with it ("" when fine).
// Max, when set, is the most characters it holds (the input's
// maxlength, the same limit the server checks).
type FormField struct {
	Value, Error string
	Max          int
}

// OfferingForm creates or edits an offering.
type OfferingForm struct {
	Page
	Editing bool   // false = create, true = edit
	Slug    string // when editing
	Name, SlugField, URL, Description, BurnAmount,
	BurnUnit, // "day" | "month" | "hour"
	GraceHours FormField
	FormError string
}

// CreatedView is shown once, right after listing or after a key
// rotation: it holds the manage key.
// HostSnippets are what a host copies to check an offering's status or
// show it: URLs and ready-to-paste markup.
type HostSnippets struct {
	StatusURL, TokenURL string // TokenURL "" when tokens are off
	Badge, Widget       string // Markdown for a README, HTML for a page
}

type CreatedView struct {
	Page
	Host         HostSnippets
	Offering     OfferingCard
	ManageKey    string
	DashboardURL string
	Rotated      bool // a new key replaced the old one: no "listed" wording
}

// SignInView is the owner sign-in page: with a manage key, or with a
// Lightning wallet already linked to an offering (LNURL-auth, LUD-04).
type SignInView struct {
	Page
	Error string // about the manage key form
	Next  string

	// The wallet half is shown only when WalletAction is set.
	WalletLNURL     string // "LNURL1...", shown as text in a <details>
	WalletQR        string // trusted SVG markup, rendered raw
	WalletAction    string // POST target that finishes the sign-in
	WalletStatusURL string // GET → {"ready":bool}; app.js submits WalletAction when ready
	WalletError     string
}

// DashboardItem is one of the signed-in owner's offerings.
type DashboardItem struct {
	Host                                     HostSnippets
	Offering                                 OfferingCard
	RunwayMsatText, EarnedText, BurnRateText string
	WithdrawableText                         string
	EditURL, WithdrawURL, WalletURL          string        // "" hides the link
	RotateAction                             string        // POST target of "Rotate manage key"; "" hides it
	RecentFunding                            []FundingRow  // latest payments in, newest first
	Deliveries                               []DeliveryRow // latest webhook deliveries, newest first
	SponsorBids                              []OwnerBidRow // bids of periods not started yet (no amounts: sealed)
	SponsorError                             string        // why a rejection was refused
}

// OwnerBidRow is a sponsor's bid as the offering's owner sees it before
// its period starts: the display to moderate and the state, no amount.
type OwnerBidRow struct {
	ID           string
	Period       string
	Name         string
	URL          string
	Tagline      string
	State        string // "paid", "awaiting payment", "rejected"
	StateClass   string // pending, active, rejected
	RejectReason string
	RejectAction string // POST target; "" once rejected
}

// FundingRow is one payment into an offering, as its owner sees it.
type FundingRow struct {
	When       time.Time
	AmountText string
	From       string // the donor's name when they made it public, else "Anonymous"
	Message    string // when public
}

// DeliveryRow is one webhook message and how its delivery went.
type DeliveryRow struct {
	When     time.Time
	Event    string // funded, runway_low, expired, revived
	State    string // pending, delivered, failed
	Attempts int
	Result   string // "204", "timeout", …
}

// DashboardView lists the signed-in owner's offerings.
type DashboardView struct {
	Page
	Items []DashboardItem
}

// PayoutRow is one withdrawal of an offering's earnings.
type PayoutRow struct {
	When          time.Time
	AmountText    string // "4,950 sats"
	FeeText       string // "3 sats", or "" while pending
	State         string // "pending" | "succeeded" | "failed"
	Destination   string // shortened invoice or name@host
	FailureReason string
}

// WithdrawView is an owner's withdraw page, at /offerings/{slug}/withdraw.
type WithdrawView struct {
	Page
	Offering         OfferingCard
	EarnedText       string // earned balance now
	WithdrawableText string // what a withdrawal would send now (earned less the routing-fee budget)
	FeeNote          string
	Action           string    // POST target; input name="destination"
	Destination      FormField // a BOLT11 invoice or a Lightning Address
	FormError        string
	LNURL            string // one-time LNURL-withdraw, "" when there is nothing to withdraw
	LNURLQR          string // trusted SVG markup, rendered raw
	LNURLExpiresAt   time.Time
	Payouts          []PayoutRow // newest first
	// DemoInvoiceAction, in demo mode, is where to ask the simulated
	// wallet for an invoice; DemoInvoiceMade says the form holds one.
	DemoInvoiceAction string
	DemoInvoiceMade   bool
}

// WalletView links a Lightning wallet to an offering, at
// /offerings/{slug}/wallet, so its owner can sign in with the wallet.
type WalletView struct {
	Page
	Offering   OfferingCard
	LNURL      string   // LNURL-auth link challenge for this offering
	QR         string   // trusted SVG markup, rendered raw
	StatusURL  string   // GET → {"ready":bool}; app.js reloads the page when ready
	LinkedKeys []string // shortened public keys already linked ("02ab…9f3c")
	DoneURL    string   // "/dashboard"
}

// ErrorView is any error page.
type ErrorView struct {
	Page
	Status           int
	Heading, Message string
}
