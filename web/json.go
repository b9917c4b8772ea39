package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

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
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return jsonError(err)
	}
	if !utf8.Valid(raw) {
		// encoding/json would quietly put U+FFFD in place of bad bytes.
		return apperr.New(apperr.Invalid, "The body is not valid UTF-8.")
	}
	if key, dup := duplicateKey(raw); dup {
		// Parsers differ on which of two equal keys counts.
		return apperr.New(apperr.Invalid, "Field %q is given twice.", key)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.Invalid, "The body must hold a single JSON object.")
	}
	return nil
}

// duplicateKey reports the first key that appears twice in one object of
// the JSON document raw; a document that is not valid JSON has none (the
// decoder reports it). It walks tokens without recursion, so nesting
// depth costs no stack.
func duplicateKey(raw []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	type frame struct {
		keys     map[string]bool // nil for an array
		expected bool            // the next token in this object is a key
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].keys != nil && stack[top].expected {
			if key, ok := tok.(string); ok {
				if stack[top].keys[key] {
					return key, true
				}
				stack[top].keys[key] = true
				stack[top].expected = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{keys: map[string]bool{}, expected: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
		}
		// A value ended: the enclosing object expects a key next.
		if n := len(stack) - 1; n >= 0 && stack[n].keys != nil {
			stack[n].expected = true
		}
	}
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
