package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/hooks"
)

// Webhooks is what the web layer needs from the webhook service.
type Webhooks interface {
	Create(ctx context.Context, offeringID int64, req hooks.CreateRequest) (hooks.Webhook, string, error)
	List(ctx context.Context, offeringID int64, perWebhook int) ([]hooks.WithDeliveries, error)
	Delete(ctx context.Context, offeringID, id int64) error
	// Recent is the owner's dashboard view: the latest deliveries of all
	// the offering's webhooks, with their attempts.
	Recent(ctx context.Context, offeringID int64, limit int) ([]hooks.Delivery, error)
}

var _ Webhooks = (*hooks.Service)(nil)

// hookRoutes adds the owner's webhook API; nothing when webhooks are off.
func (s *Server) hookRoutes(api *echo.Group) {
	if s.Webhooks == nil {
		return
	}
	api.POST("/offerings/:slug/webhooks", s.apiCreateWebhook)
	api.GET("/offerings/:slug/webhooks", s.apiListWebhooks)
	api.DELETE("/offerings/:slug/webhooks/:id", s.apiDeleteWebhook)
}

type webhookRequest struct {
	URL              string   `json:"url"`
	Events           []string `json:"events"`
	RunwayLowSeconds *int64   `json:"runway_low_seconds"`
}

type webhookJSON struct {
	ID               int64          `json:"id"`
	URL              string         `json:"url"`
	Events           []hooks.Event  `json:"events"`
	RunwayLowSeconds int64          `json:"runway_low_seconds"`
	CreatedAt        string         `json:"created_at"`
	Secret           string         `json:"secret,omitempty"` // on creation only
	Deliveries       []deliveryJSON `json:"deliveries"`
}

type deliveryJSON struct {
	ID            string          `json:"id"` // the webhook-id header the host received
	Event         hooks.Event     `json:"event"`
	State         string          `json:"state"`
	Attempts      int             `json:"attempts"`
	CreatedAt     string          `json:"created_at"`
	NextAttemptAt *string         `json:"next_attempt_at"`
	DeliveredAt   *string         `json:"delivered_at"`
	LastStatus    int             `json:"last_status"`
	LastError     string          `json:"last_error"`
	Payload       json.RawMessage `json:"payload"`
	AttemptLog    []attemptJSON   `json:"attempt_log"`
}

type attemptJSON struct {
	At         string `json:"at"`
	StatusCode int    `json:"status_code"` // 0 when no answer came
	Error      string `json:"error"`
	DurationMs int64  `json:"duration_ms"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func toWebhookJSON(w hooks.Webhook) webhookJSON {
	return webhookJSON{ID: w.ID, URL: w.URL, Events: w.Events, RunwayLowSeconds: w.RunwayLowSeconds,
		CreatedAt: rfc3339(w.CreatedAt), Deliveries: []deliveryJSON{}}
}

func toDeliveryJSON(d hooks.Delivery) deliveryJSON {
	j := deliveryJSON{ID: d.MsgID, Event: d.Event, State: string(d.State), Attempts: d.Attempts, CreatedAt: rfc3339(d.CreatedAt),
		LastStatus: d.LastStatus, LastError: d.LastError, Payload: json.RawMessage(d.Payload), AttemptLog: []attemptJSON{}}
	if d.State == hooks.Pending {
		n := rfc3339(d.NextAttemptAt)
		j.NextAttemptAt = &n
	}
	if d.DeliveredAt != nil {
		t := rfc3339(*d.DeliveredAt)
		j.DeliveredAt = &t
	}
	for _, a := range d.Log {
		j.AttemptLog = append(j.AttemptLog, attemptJSON{At: rfc3339(a.At), StatusCode: a.StatusCode, Error: a.Error, DurationMs: a.DurationMs})
	}
	return j
}

func (s *Server) apiCreateWebhook(c echo.Context) error {
	o, err := s.bearerOwner(c, c.Param("slug"))
	if err != nil {
		return err
	}
	var req webhookRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	w, secret, err := s.Webhooks.Create(c.Request().Context(), o.ID,
		hooks.CreateRequest{URL: req.URL, Events: req.Events, RunwayLowSeconds: req.RunwayLowSeconds})
	if err != nil {
		return err
	}
	j := toWebhookJSON(w)
	j.Secret = secret
	c.Response().Header().Set("Cache-Control", "no-store") // the secret is shown once
	return c.JSON(http.StatusCreated, j)
}

type webhookListJSON struct {
	Webhooks []webhookJSON `json:"webhooks"`
}

// deliveriesShown is how many recent deliveries each webhook lists.
const deliveriesShown = 20

func (s *Server) apiListWebhooks(c echo.Context) error {
	o, err := s.bearerOwner(c, c.Param("slug"))
	if err != nil {
		return err
	}
	list, err := s.Webhooks.List(c.Request().Context(), o.ID, deliveriesShown)
	if err != nil {
		return err
	}
	out := webhookListJSON{Webhooks: make([]webhookJSON, 0, len(list))}
	for _, w := range list {
		j := toWebhookJSON(w.Webhook)
		for _, d := range w.Deliveries {
			j.Deliveries = append(j.Deliveries, toDeliveryJSON(d))
		}
		out.Webhooks = append(out.Webhooks, j)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}

func (s *Server) apiDeleteWebhook(c echo.Context) error {
	o, err := s.bearerOwner(c, c.Param("slug"))
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return apperr.New(apperr.NotFound, "This offering has no such webhook.")
	}
	if err := s.Webhooks.Delete(c.Request().Context(), o.ID, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
