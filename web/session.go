package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/internal/apperr"
	"github.com/keepalive/keepalive/internal/offering"
)

const (
	sessionCookie = "ka_session"
	sessionTTL    = offering.SessionTTL
)

// An owner's session lives on the server (see offering.SignIn); the
// cookie holds its random token, signed so that a made-up cookie costs no
// database query.

// session is what this request's cookie stands for, read once.
type session struct {
	token string
	owned []offering.Offering
	err   error
}

func (s *Server) sign(token string) string {
	m := hmac.New(sha256.New, s.CookieKey)
	m.Write([]byte(token))
	return token + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sessionToken returns the token of the session cookie, if it carries a
// valid signature.
func (s *Server) sessionToken(c echo.Context) string {
	ck, err := c.Cookie(sessionCookie)
	if err != nil || len(ck.Value) > 200 {
		return ""
	}
	token, _, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(s.sign(token)), []byte(ck.Value)) {
		return ""
	}
	return token
}

func (s *Server) readSession(c echo.Context) session {
	if cached, ok := c.Get("session").(session); ok {
		return cached
	}
	sess := session{token: s.sessionToken(c)}
	if sess.token != "" {
		sess.owned, sess.err = s.Offerings.SessionOfferings(c.Request().Context(), sess.token)
	}
	c.Set("session", sess)
	return sess
}

func (s *Server) clearSession(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode})
	c.Set("session", session{})
}

// signInTo adds o to the owner's session, starting one if needed.
func (s *Server) signInTo(c echo.Context, o offering.Offering) error {
	ctx := c.Request().Context()
	token := s.sessionToken(c)
	if cached, ok := c.Get("session").(session); ok && cached.token != "" {
		token = cached.token // signed in earlier in this request
	}
	token, err := s.Offerings.SignIn(ctx, token, o)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{
		Name: sessionCookie, Value: s.sign(token), Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
	owned, err := s.Offerings.SessionOfferings(ctx, token)
	c.Set("session", session{token: token, owned: owned, err: err})
	return err
}

// ownedOfferings returns the offerings the session may manage.
func (s *Server) ownedOfferings(c echo.Context) ([]offering.Offering, error) {
	sess := s.readSession(c)
	return sess.owned, sess.err
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
