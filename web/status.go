package web

import (
	"encoding/binary"
	"hash/fnv"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/offering"
)

// apiStatus answers the hosts' question, "is it funded?". It is the
// hottest endpoint: the status comes from memory (offering.Service keeps
// it), the JSON is appended by hand, and a host that sends back the ETag
// gets a 304 while nothing that matters has changed.
func (s *Server) apiStatus(c echo.Context) error {
	st, err := s.Offerings.Status(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	etag := statusETag(st)
	h := c.Response().Header()
	// Canonical keys assigned directly: this is the hottest handler.
	h["Etag"] = []string{etag}
	h["Cache-Control"] = statusCacheControl
	h["Access-Control-Allow-Origin"] = anyOrigin // a public fact, read from any page, like the token
	if match := c.Request().Header.Get("If-None-Match"); match != "" && match == etag {
		return c.NoContent(http.StatusNotModified)
	}
	h["Content-Type"] = jsonContentType
	body := appendStatusJSON(make([]byte, 0, 256), st)
	c.Response().WriteHeader(http.StatusOK)
	_, err = c.Response().Write(body)
	return err
}

var (
	statusCacheControl = []string{"public, max-age=5"}
	jsonContentType    = []string{echo.MIMEApplicationJSON}
	anyOrigin          = []string{"*"}
)

// statusETag changes when the state, funded_until or burn rate change.
// runway_seconds and runway_msat follow from those and the clock, so a
// 304 never hides news: the host can count down from funded_until.
func statusETag(st offering.Status) string {
	h := fnv.New64a()
	var b [8]byte
	h.Write([]byte(st.Slug))
	h.Write([]byte(st.State))
	binary.LittleEndian.PutUint64(b[:], uint64(st.FundedUntil.UnixMilli()))
	h.Write(b[:])
	binary.LittleEndian.PutUint64(b[:], uint64(st.BurnRateMsatPerHour))
	h.Write(b[:])
	return `W/"` + strconv.FormatUint(h.Sum64(), 36) + `"`
}

func appendStatusJSON(b []byte, st offering.Status) []byte {
	b = append(b, `{"slug":`...)
	b = strconv.AppendQuote(b, st.Slug) // slugs are [a-z0-9-]: Go and JSON quoting agree
	b = append(b, `,"state":"`...)
	b = append(b, st.State...)
	b = append(b, `","alive":`...)
	b = strconv.AppendBool(b, st.Alive())
	b = append(b, `,"funded_until":`...)
	if st.FundedUntil.IsZero() {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = st.FundedUntil.UTC().AppendFormat(b, time.RFC3339)
		b = append(b, '"')
	}
	b = append(b, `,"runway_seconds":`...)
	b = strconv.AppendInt(b, st.RunwaySeconds, 10)
	b = append(b, `,"runway_msat":`...)
	b = strconv.AppendInt(b, int64(st.RunwayMsat), 10)
	b = append(b, `,"burn_rate_msat_per_hour":`...)
	b = strconv.AppendInt(b, int64(st.BurnRateMsatPerHour), 10)
	b = append(b, "}\n"...)
	return b
}
