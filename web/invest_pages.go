package web

import "github.com/labstack/echo/v4"

// investPageRoutes adds the investing pages.
func (s *Server) investPageRoutes(e *echo.Echo, invoiceLimit echo.MiddlewareFunc) {
}
