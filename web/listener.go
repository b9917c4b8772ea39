package web

import (
	"bytes"
	"io"
	"net"
	"sync/atomic"
)

// APIListener wraps the site's listener so that a request net/http
// refuses before any handler sees it (a bad %-escape in the path, say)
// gets the API's JSON error envelope when it was meant for the API,
// instead of net/http's plain-text "400 Bad Request". Nothing else about
// the connection changes.
func APIListener(l net.Listener) net.Listener { return apiListener{l} }

type apiListener struct{ net.Listener }

func (l apiListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return &apiConn{Conn: c}, nil
}

// apiConn remembers whether the request it read last was for the API.
// net/http reads in the background while a handler writes, hence the
// atomic.
type apiConn struct {
	net.Conn
	api atomic.Bool
}

// netHTTPBadRequest is what net/http writes, in one piece, when it cannot
// parse a request line or header.
const netHTTPBadRequest = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"

var apiBadRequest = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n" +
	`{"error":{"code":"invalid","message":"The request could not be parsed; check the escapes in its path."}}` + "\n"

func (c *apiConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if start, ok := requestTarget(p[:n]); ok {
		c.api.Store(bytes.HasPrefix(start, []byte("/api/")))
	}
	return n, err
}

func (c *apiConn) Write(p []byte) (int, error) {
	if len(p) == len(netHTTPBadRequest) && c.api.Load() && string(p) == netHTTPBadRequest {
		if _, err := io.WriteString(c.Conn, apiBadRequest); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// requestTarget returns the start of the request target if b begins with
// a request line ("METHOD /..."); reads in the middle of a body do not.
func requestTarget(b []byte) ([]byte, bool) {
	for i := 0; i < len(b) && i < 16; i++ {
		switch c := b[i]; {
		case c == ' ' && i > 0:
			return b[i+1:], len(b) > i+1 && b[i+1] == '/'
		case c < 'A' || c > 'Z':
			return nil, false
		}
	}
	return nil, false
}
