package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
)

// decodeJSON reads exactly one JSON object from the body into v: unknown
// fields, trailing data and wrong types are clear 400s. The body limit
// middleware has already capped the size.
func decodeJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); ct != "" && (err != nil || mt != "application/json") {
		return apperr.New(apperr.Invalid, "Send the body as application/json.")
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.Invalid, "The body must hold a single JSON object.")
	}
	return nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooLarge *echo.HTTPError
	var maxBytes *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return apperr.New(apperr.Invalid, "The body is empty; send a JSON object.")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Invalid, "The body is not valid JSON.")
	case errors.As(err, &typ):
		if typ.Field != "" {
			return apperr.New(apperr.Invalid, "Field %q must be %s.", typ.Field, describeType(typ.Type.String()))
		}
		return apperr.New(apperr.Invalid, "The body must be a JSON object.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return apperr.New(apperr.Invalid, "Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.As(err, &tooLarge) && tooLarge.Code == http.StatusRequestEntityTooLarge, errors.As(err, &maxBytes):
		return apperr.New(apperr.TooLarge, "The body is too large.")
	}
	return apperr.Wrap(err, apperr.Invalid, "The body could not be read.")
}

func describeType(t string) string {
	switch strings.TrimPrefix(t, "*") {
	case "int64", "money.Msat", "int":
		return "an integer within range"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	}
	return fmt.Sprintf("of type %s", t)
}
