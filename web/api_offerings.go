package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/money"
	"github.com/keepalive/keepalive/internal/offering"
)

// offeringRequest is the body of POST and PATCH /api/v1/offerings. On
// PATCH, absent fields stay as they are.
type offeringRequest struct {
	Name                *string     `json:"name"`
	Slug                *string     `json:"slug"`
	URL                 *string     `json:"url"`
	Description         *string     `json:"description"`
	BurnRateMsatPerHour *money.Msat `json:"burn_rate_msat_per_hour"`
	GraceSeconds        *int64      `json:"grace_seconds"`
}

func (r offeringRequest) input() offering.Input {
	return offering.Input{Name: r.Name, Slug: r.Slug, URL: r.URL, Description: r.Description,
		BurnRateMsatPerHour: r.BurnRateMsatPerHour, GraceSeconds: r.GraceSeconds}
}

type offeringJSON struct {
	Slug                string     `json:"slug"`
	Name                string     `json:"name"`
	URL                 string     `json:"url"`
	Description         string     `json:"description"`
	BurnRateMsatPerHour money.Msat `json:"burn_rate_msat_per_hour"`
	GraceSeconds        int64      `json:"grace_seconds"`
	State               string     `json:"state"`
	Alive               bool       `json:"alive"`
	FundedUntil         *string    `json:"funded_until"`
	RunwaySeconds       int64      `json:"runway_seconds"`
	RunwayMsat          money.Msat `json:"runway_msat"`
	CreatedAt           string     `json:"created_at"`
	UpdatedAt           string     `json:"updated_at"`
	Links               links      `json:"links"`
	ManageKey           string     `json:"manage_key,omitempty"`
}

type links struct {
	Page   string `json:"page"`
	Status string `json:"status"`
}

func (s *Server) offeringJSON(o offering.Offering, st offering.Status) offeringJSON {
	j := offeringJSON{
		Slug: o.Slug, Name: o.Name, URL: o.URL, Description: o.Description,
		BurnRateMsatPerHour: o.BurnRateMsatPerHour, GraceSeconds: o.GraceSeconds,
		State: string(st.State), Alive: st.Alive(), RunwaySeconds: st.RunwaySeconds, RunwayMsat: st.RunwayMsat,
		CreatedAt: o.CreatedAt.UTC().Format(time.RFC3339), UpdatedAt: o.UpdatedAt.UTC().Format(time.RFC3339),
		Links: links{
			Page:   s.BaseURL + "/o/" + url.PathEscape(o.Slug),
			Status: s.BaseURL + "/api/v1/offerings/" + url.PathEscape(o.Slug) + "/status",
		},
	}
	if !st.FundedUntil.IsZero() {
		f := st.FundedUntil.UTC().Format(time.RFC3339)
		j.FundedUntil = &f
	}
	return j
}

func (s *Server) apiCreateOffering(c echo.Context) error {
	var req offeringRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	o, key, err := s.Offerings.Create(c.Request().Context(), req.input())
	if err != nil {
		return err
	}
	st, err := s.Offerings.Status(c.Request().Context(), o.Slug)
	if err != nil {
		return err
	}
	j := s.offeringJSON(o, st)
	j.ManageKey = key
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/offerings/"+url.PathEscape(o.Slug))
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, j)
}

func (s *Server) apiGetOffering(c echo.Context) error {
	ctx := c.Request().Context()
	o, err := s.Offerings.Get(ctx, c.Param("slug"))
	if err != nil {
		return err
	}
	st, err := s.Offerings.Status(ctx, o.Slug)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.offeringJSON(o, st))
}

func (s *Server) apiUpdateOffering(c echo.Context) error {
	ctx := c.Request().Context()
	slug := c.Param("slug")
	if _, err := s.bearerOwner(c, slug); err != nil {
		return err
	}
	var req offeringRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	o, err := s.Offerings.Update(ctx, slug, req.input())
	if err != nil {
		return err
	}
	st, err := s.Offerings.Status(ctx, o.Slug)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.offeringJSON(o, st))
}

type listJSON struct {
	Offerings []offeringJSON `json:"offerings"`
	Total     int64          `json:"total"`
	Limit     int            `json:"limit"`
	Offset    int            `json:"offset"`
	Next      *string        `json:"next"`
}

func (s *Server) apiListOfferings(c echo.Context) error {
	limit, err := intParam(c, "limit", 20, 1, offering.MaxListLimit)
	if err != nil {
		return err
	}
	offset, err := intParam(c, "offset", 0, 0, 1_000_000)
	if err != nil {
		return err
	}
	q := c.QueryParam("q")
	items, total, err := s.Offerings.List(c.Request().Context(), offering.ListQuery{Search: q, Limit: limit, Offset: offset})
	if err != nil {
		return err
	}
	out := listJSON{Offerings: make([]offeringJSON, 0, len(items)), Total: total, Limit: limit, Offset: offset}
	for _, it := range items {
		out.Offerings = append(out.Offerings, s.offeringJSON(it.Offering, it.Status))
	}
	if int64(offset+limit) < total {
		v := url.Values{"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset + limit)}}
		if q != "" {
			v.Set("q", q)
		}
		next := s.BaseURL + "/api/v1/offerings?" + v.Encode()
		out.Next = &next
	}
	return c.JSON(http.StatusOK, out)
}

// intParam reads an optional integer query parameter within [min, max].
func intParam(c echo.Context, name string, def, min, max int) (int, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < min || n > max {
		return 0, apperr.New(apperr.Invalid, "Query parameter %s must be an integer from %d to %d.", name, min, max)
	}
	return n, nil
}
