package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/templates"
)

// statusOf maps a domain error code to its HTTP status: the one place
// where that mapping lives.
func statusOf(code apperr.Code) int {
	switch code {
	case apperr.Invalid:
		return http.StatusBadRequest
	case apperr.Unprocessable:
		return http.StatusUnprocessableEntity
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Unauthorized:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.NotAllowed:
		return http.StatusMethodNotAllowed
	case apperr.RateLimited:
		return http.StatusTooManyRequests
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// codeOfStatus names an HTTP status that did not come from the domain
// (routing, body limit) with a domain code.
func codeOfStatus(status int) apperr.Code {
	switch status {
	case http.StatusBadRequest:
		return apperr.Invalid
	case http.StatusNotFound:
		return apperr.NotFound
	case http.StatusMethodNotAllowed:
		return apperr.NotAllowed
	case http.StatusUnauthorized:
		return apperr.Unauthorized
	case http.StatusForbidden:
		return apperr.Forbidden
	case http.StatusRequestEntityTooLarge:
		return apperr.TooLarge
	case http.StatusTooManyRequests:
		return apperr.RateLimited
	case http.StatusUnprocessableEntity:
		return apperr.Unprocessable
	case http.StatusConflict:
		return apperr.Conflict
	case http.StatusServiceUnavailable:
		return apperr.Unavailable
	}
	return apperr.Internal
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    apperr.Code       `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// handleError is Echo's error handler: it maps the error to a status,
// logs only what is our fault, and answers JSON to API clients and a
// page to people. Users never see internal error text.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if canceled(c, err) {
		return // the client went away; there is no one to answer
	}
	var status int
	var detail errorDetail
	var he *echo.HTTPError
	if errors.As(err, &he) && apperr.CodeOf(err) == apperr.Internal {
		status = he.Code
		detail.Code = codeOfStatus(status)
		detail.Message = http.StatusText(status)
		if m, ok := he.Message.(string); ok && status < 500 {
			detail.Message = m
		}
		if status == http.StatusMethodNotAllowed {
			detail.Message = "That method is not allowed here."
		}
	} else {
		detail.Code = apperr.CodeOf(err)
		detail.Message = apperr.MessageOf(err)
		detail.Fields = apperr.FieldsOf(err)
		status = statusOf(detail.Code)
	}
	if status >= 500 {
		s.log.ErrorContext(c.Request().Context(), "request failed", "err", err, "path", c.Path(),
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		detail.Message = apperr.MessageOf(nil)
	}
	if status == http.StatusUnauthorized && isAPI(c) {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="keepalive"`)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if wantsJSON(c) {
		_ = c.JSON(status, errorBody{Error: detail})
		return
	}
	view := templates.ErrorView{Page: s.page(c, headingFor(status)), Status: status, Heading: headingFor(status), Message: detail.Message}
	if rerr := s.render(c, status, templates.ErrorPage(view)); rerr != nil {
		s.log.ErrorContext(c.Request().Context(), "render error page", "err", rerr)
		_ = c.String(status, detail.Message)
	}
}

func headingFor(status int) string {
	switch status {
	case http.StatusNotFound:
		return "Not found"
	case http.StatusUnauthorized, http.StatusForbidden:
		return "Not allowed"
	case http.StatusTooManyRequests:
		return "Slow down"
	case http.StatusRequestEntityTooLarge:
		return "Too large"
	}
	if status >= 500 {
		return "Something broke"
	}
	return "That did not work"
}

func isAPI(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/.well-known/") ||
		strings.HasPrefix(p, "/lnurl")
}

func wantsJSON(c echo.Context) bool {
	if isAPI(c) {
		return true
	}
	accept := c.Request().Header.Get(echo.HeaderAccept)
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}
