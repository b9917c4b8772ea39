package web

import (
	"errors"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
)

// limitBody caps every request body at limit bytes, whether its length is
// announced or not (chunked), and reads forms up front: a form that is too
// large is then a 413 before anything (the CSRF check first of all) reads
// it and mistakes the cut-off body for a missing field. It also keeps the
// CSRF token to the form body: net/http merges the query string into the
// form, and a token in a URL ends up in logs, histories and Referer
// headers.
func limitBody(limit int64) echo.MiddlewareFunc {
	tooLarge := apperr.New(apperr.TooLarge, "The body is too large.")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			// Bodyless reads need no limiting reader (the status endpoint
			// pays for every wrapper).
			if (req.Method == http.MethodGet || req.Method == http.MethodHead) && req.ContentLength == 0 {
				return next(c)
			}
			if req.ContentLength > limit {
				return tooLarge
			}
			req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
			if err := parseForm(req, limit); err != nil {
				var maxBytes *http.MaxBytesError
				if errors.As(err, &maxBytes) {
					return tooLarge
				}
				return apperr.Wrap(err, apperr.Invalid, "The form could not be read.")
			}
			if req.Form != nil {
				if token, ok := req.PostForm[csrfField]; ok {
					req.Form[csrfField] = token
				} else {
					delete(req.Form, csrfField)
				}
			}
			return next(c)
		}
	}
}

// parseForm reads a form body (ParseMultipartForm alone would swallow
// the error of an URL-encoded one) and, for any other body, the query
// string alone.
func parseForm(req *http.Request, limit int64) error {
	mt, _, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if mt == echo.MIMEMultipartForm {
		return req.ParseMultipartForm(limit)
	}
	return req.ParseForm()
}
