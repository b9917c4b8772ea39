package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/offering"
)

const (
	sessionCookie = "ka_session"
	sessionTTL    = 30 * 24 * time.Hour
	// maxSessionOfferings bounds the cookie: one person rarely owns more.
	maxSessionOfferings = 20
)

// session is what an owner's signed cookie says: which offerings they
// signed in to, each with the version of the manage key they used, so a
// rotated key ends the sessions made with the old one.
type session struct {
	Offerings []sessionOffering `json:"o"`
	Expires   int64             `json:"e"`
}

type sessionOffering struct {
	ID         int64  `json:"i"`
	KeyVersion string `json:"v"`
}

func (s *Server) sign(payload []byte) string {
	m := hmac.New(sha256.New, s.CookieKey)
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) readSession(c echo.Context) session {
	if cached, ok := c.Get("session").(session); ok {
		return cached
	}
	var sess session
	defer func() { c.Set("session", sess) }()
	ck, err := c.Cookie(sessionCookie)
	if err != nil || len(ck.Value) > 4096 {
		return sess
	}
	body, mac, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return sess
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(body)
	got, err2 := base64.RawURLEncoding.DecodeString(mac)
	if err1 != nil || err2 != nil {
		return sess
	}
	m := hmac.New(sha256.New, s.CookieKey)
	m.Write(payload)
	if !hmac.Equal(got, m.Sum(nil)) {
		return sess
	}
	var v session
	if json.Unmarshal(payload, &v) != nil || time.Unix(v.Expires, 0).Before(time.Now()) {
		return sess
	}
	sess = v
	return sess
}

func (s *Server) writeSession(c echo.Context, sess session) {
	sess.Expires = time.Now().Add(sessionTTL).Unix()
	payload, _ := json.Marshal(sess)
	c.SetCookie(&http.Cookie{
		Name: sessionCookie, Value: s.sign(payload), Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
	c.Set("session", sess)
}

func (s *Server) clearSession(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode})
	c.Set("session", session{})
}

// signInTo adds o to the owner's session.
func (s *Server) signInTo(c echo.Context, o offering.Offering) {
	sess := s.readSession(c)
	kept := []sessionOffering{{ID: o.ID, KeyVersion: offering.KeyVersion(o)}}
	for _, so := range sess.Offerings {
		if so.ID != o.ID && len(kept) < maxSessionOfferings {
			kept = append(kept, so)
		}
	}
	s.writeSession(c, session{Offerings: kept})
}

// ownedOfferings returns the offerings the session may manage, dropping
// those whose key has since been rotated or that are gone.
func (s *Server) ownedOfferings(c echo.Context) ([]offering.Offering, error) {
	var out []offering.Offering
	for _, so := range s.readSession(c).Offerings {
		o, err := s.Offerings.GetByID(c.Request().Context(), so.ID)
		if apperr.Is(err, apperr.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if offering.KeyVersion(o) == so.KeyVersion {
			out = append(out, o)
		}
	}
	return out, nil
}

// owns returns the offering with that slug if the session may manage it.
func (s *Server) owns(c echo.Context, slug string) (offering.Offering, bool, error) {
	owned, err := s.ownedOfferings(c)
	if err != nil {
		return offering.Offering{}, false, err
	}
	for _, o := range owned {
		if o.Slug == slug {
			return o, true, nil
		}
	}
	return offering.Offering{}, false, nil
}

// bearerOwner authenticates an API request with the manage key of the
// offering named by slug.
func (s *Server) bearerOwner(c echo.Context, slug string) (offering.Offering, error) {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	// The scheme is case-insensitive (RFC 9110, section 11.1).
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return offering.Offering{}, apperr.New(apperr.Unauthorized, "Send the offering's manage key as Authorization: Bearer <key>.")
	}
	return s.Offerings.Authenticate(c.Request().Context(), slug, strings.TrimSpace(key))
}
