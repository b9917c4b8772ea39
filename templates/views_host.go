package templates

// WidgetView is the embeddable widget of an offering, at /o/{slug}/widget:
// a page meant for an <iframe> on the offering's own site.
type WidgetView struct {
	Page
	Offering OfferingCard
	Theme    string // "light", "dark" or "" (follow the visitor's preference)
}
