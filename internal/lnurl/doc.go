// Package lnurl owns the LNURL protocols Keepalive speaks, on both sides of
// the wire: the bech32 LNURL encoding and its scheme variants (LUD-01, LUD-17),
// Lightning Addresses (LUD-16), LNURL-pay with comments and success actions
// (LUD-06, LUD-12, LUD-09), LNURL-withdraw (LUD-03) and LNURL-auth (LUD-04).
//
// It is domain-agnostic: it knows nothing of offerings, databases or web
// frameworks. The server side is JSON shapes and helpers that handlers
// render; the client side (Client) pays Lightning Addresses and acts as a
// wallet in tests.
//
// Transport rule, used everywhere a URL is accepted from elsewhere: LNURL
// endpoints are https, except http for .onion hosts (LUD-01) and for
// localhost, 127.0.0.1 or ::1 with an explicit port. The loopback exception
// is ours, not the spec's: integration tests run services on httptest
// servers. It does not make loopback reachable from outside; callers that
// fetch user-supplied addresses must still guard against requests to their
// own network (see Client).
package lnurl
