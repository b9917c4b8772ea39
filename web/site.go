package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keepalive/keepalive/static"
)

// robotsTxt lets crawlers read the public pages and keeps them out of
// owners' pages, invoices and the API.
const robotsTxt = `User-agent: *
Disallow: /api/
Disallow: /dashboard
Disallow: /offerings/
Disallow: /invoices/
Disallow: /signin
Disallow: /lnurl
Allow: /
`

// siteRoutes are the files every site is asked for at fixed paths.
func (s *Server) siteRoutes(e *echo.Echo) {
	e.GET("/robots.txt", func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=86400")
		return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(robotsTxt))
	})
	e.GET("/favicon.ico", func(c echo.Context) error {
		// Browsers and crawlers ask here whatever the page says; the icon
		// is the site's SVG.
		c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=86400")
		return c.Redirect(http.StatusMovedPermanently, static.Path("img/favicon.svg"))
	})
}
