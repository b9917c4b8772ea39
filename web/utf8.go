package web

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
)

// validUTF8 refuses, with a 400, a request whose path, query or form
// holds text that is not UTF-8. Nothing such is meaningful here, and
// PostgreSQL refuses it deep down with an error that would otherwise be
// a 500; text fields are checked once more, with a message per field,
// by the text package.
func validUTF8(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		ok := utf8.ValidString(r.URL.Path) && valuesUTF8(r.URL.Query())
		if ok && r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get(echo.HeaderContentType), echo.MIMEApplicationForm) {
			if err := r.ParseForm(); err == nil {
				ok = valuesUTF8(r.PostForm)
			}
		}
		if !ok {
			return apperr.New(apperr.Invalid, "The request holds text that is not valid UTF-8.")
		}
		return next(c)
	}
}

func valuesUTF8(v url.Values) bool {
	for k, vs := range v {
		if !utf8.ValidString(k) {
			return false
		}
		for _, s := range vs {
			if !utf8.ValidString(s) {
				return false
			}
		}
	}
	return true
}
