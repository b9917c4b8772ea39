package templates

// SponsorSlot is a winner shown during its period.
type SponsorSlot struct {
	Slot     int
	Name     string
	URL      string
	Tagline  string
	Weight   int    // basis points: prominence
	Offering string // slug, on the directory
	Until    string // "until 14 Dec 00:00 UTC"
}

// SponsorsBox is the sponsors part of an offering page.
type SponsorsBox struct {
	Enabled bool
	Slug    string
	Slots   []SponsorSlot
}

// SponsorPeriod is a period open for bids, in the bid form.
type SponsorPeriod struct {
	Start string // RFC 3339, the form value
	Label string // "Mon 7 Dec – Mon 14 Dec (2 bids)"
}

// SponsorBidForm is the page where a sponsor bids on an offering.
type SponsorBidForm struct {
	Page
	Slug, OfferingName string
	Terms              string // "3 slots a week; reserve 1,000 sats; weights 100% / 60% / 30%"
	Periods            []SponsorPeriod
	Period             FormField
	Amount             FormField // sats
	Name, URL, Tagline FormField
	Error              string
}

// SponsorPlaced is shown once after a bid: its claim key and invoice.
type SponsorPlaced struct {
	Page
	Slug, OfferingName string
	BidID              string
	ClaimKey           string
	InvoicePath        string
	AmountText         string
	PeriodText         string
}

// SponsorBidRow is one bid on the sponsor's page.
type SponsorBidRow struct {
	ID           string
	Offering     string // slug
	OfferingName string
	Period       string
	State        string // "won slot 2", "pending", …
	StateClass   string
	AmountText   string
	RefundText   string // payable now
	CanWithdraw  bool   // the bid itself (before its period)
	CanRefund    bool   // its refund
	RejectReason string
	Withdrawals  []string
	DisplayName  string
	DisplayURL   string
	ChargeNote   string // "; charged 5,300 sats" once won, else ""
	// LNURL and LNURLQR are a one-time LNURL-withdraw code for the
	// refund, when the sponsor asked for one.
	LNURL, LNURLQR string
}

// SponsorPage is the sponsor's own page, opened with a claim key.
type SponsorPage struct {
	Page
	ClaimKey string // echoed into the forms (never into URLs)
	Bids     []SponsorBidRow
	Error    string
	Notice   string
}

// SponsorsDirectory lists sponsors across offerings.
type SponsorsDirectory struct {
	Page
	Current []SponsorSlot
	Past    []SponsorSlot
}

// SponsorSettingsForm is the owner's sponsorship terms form.
type SponsorSettingsForm struct {
	Page
	Slug, OfferingName string
	Enabled            bool
	Slots, Period      FormField
	Reserve            FormField // sats
	Weights            FormField // "10000,6000,3000"
	OpenPeriods        FormField
	Error              string
	Saved              bool
}
