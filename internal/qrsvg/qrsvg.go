// Package qrsvg owns drawing QR codes as inline SVG for the pages: invoice
// and LNURL codes are rendered on the server, so they show without
// JavaScript, need no image request and stay within a strict CSP.
//
// The encoder is rsc.io/qr: the smallest of the maintained Go QR encoders,
// with no dependencies; it picks numeric, alphanumeric or byte mode by
// itself. This package adds the quiet zone, the SVG and the case folding
// that lets Lightning strings use the denser alphanumeric mode.
package qrsvg

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"rsc.io/qr"
)

// MaxInputBytes is the longest text SVG accepts. A QR code of the largest
// version (40) holds 2,953 bytes at level L; the margin keeps a request
// for a code that would be unreadable on a screen anyway out of the
// encoder. BOLT11 invoices are at most about 700 characters.
const MaxInputBytes = 2900

// MaxSize bounds the width and height in pixels, so a caller's mistake
// cannot ask a browser to lay out a huge image.
const MaxSize = 4096

// quietZone is the blank border, in modules, that the QR specification
// requires around the symbol; scanners fail often without it.
const quietZone = 4

// ErrTooLong is returned for text longer than MaxInputBytes or too long
// for any QR version at the lowest error correction level.
var ErrTooLong = errors.New("qrsvg: text too long for a QR code")

// SVG returns a QR code of text as SVG markup, size pixels wide and high:
// a white background and one path of dark modules, in a viewBox measured
// in modules (quiet zone included), with crisp edges and no style
// attributes, so it is safe to inline under a strict CSP.
//
// Error correction is M (15% of the symbol may be damaged) when the text
// fits, L otherwise. The markup is deterministic: the same input gives the
// same bytes.
func SVG(text string, size int) (string, error) {
	if size <= 0 || size > MaxSize {
		return "", fmt.Errorf("qrsvg: size %d out of range 1..%d", size, MaxSize)
	}
	if text == "" {
		return "", errors.New("qrsvg: empty text")
	}
	if len(text) > MaxInputBytes {
		return "", fmt.Errorf("%w (%d bytes, at most %d)", ErrTooLong, len(text), MaxInputBytes)
	}
	code, err := encode(foldCase(text))
	if err != nil {
		return "", err
	}
	return draw(code, size), nil
}

// encode tries level M, then L for texts that only fit with less
// redundancy.
func encode(text string) (*qr.Code, error) {
	code, err := qr.Encode(text, qr.M)
	if err == nil {
		return code, nil
	}
	code, errL := qr.Encode(text, qr.L)
	if errL != nil {
		return nil, fmt.Errorf("%w: %v", ErrTooLong, errL)
	}
	return code, nil
}

// foldCase upper-cases Lightning strings. BOLT11 invoices and LNURLs are
// bech32, which is case-insensitive (all upper or all lower case), and so
// is a URI scheme like "lightning:". In upper case every character is in
// the QR alphanumeric set (0-9, A-Z, space, $%*+-./:), which packs 5.5
// bits per character instead of 8: the code gets about 30% fewer modules
// and scans more easily. Any other text (a URL with a path, a Lightning
// Address) is case-sensitive and is left as it is.
func foldCase(text string) string {
	rest := text
	if len(rest) >= len("lightning:") && strings.EqualFold(rest[:len("lightning:")], "lightning:") {
		rest = rest[len("lightning:"):]
	}
	if !isBech32(rest) {
		return text
	}
	return strings.ToUpper(text)
}

// bech32Charset is the data alphabet of BIP-173 (no 1, b, i, o).
const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// isBech32 says whether s has the shape of a bech32 string: a
// human-readable part of letters and digits, the separator '1' (the last
// one), at least six data characters from the bech32 alphabet, and one
// case throughout. The checksum is not verified: it only decides the case
// of the QR text, and a wrong guess still encodes the same string.
func isBech32(s string) bool {
	lower := strings.ToLower(s)
	if s != lower && s != strings.ToUpper(s) {
		return false
	}
	sep := strings.LastIndexByte(lower, '1')
	if sep < 1 || len(lower)-sep-1 < 6 {
		return false
	}
	for _, c := range lower[:sep] {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	for _, c := range lower[sep+1:] {
		if !strings.ContainsRune(bech32Charset, c) {
			return false
		}
	}
	return true
}

// draw writes the SVG. Each horizontal run of dark modules in a row is one
// rectangle of a single path: a 400-character invoice comes to about
// 13 kB of markup (a few kB gzipped), and the browser fills it in one go.
func draw(code *qr.Code, size int) string {
	n := code.Size + 2*quietZone
	px := strconv.Itoa(size)
	dim := strconv.Itoa(n)

	b := make([]byte, 0, 256+code.Size*code.Size*2)
	b = append(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `...)
	b = append(b, dim+" "+dim+`" width="`+px+`" height="`+px...)
	b = append(b, `" shape-rendering="crispEdges" role="img" aria-label="QR code">`...)
	b = append(b, `<rect width="`+dim+`" height="`+dim+`" fill="#fff"/>`...)
	b = append(b, `<path fill="#000" d="`...)
	// Moves are relative to the previous run's start (where "z" leaves
	// the pen), which keeps the numbers short.
	cx, cy := 0, 0
	for y := 0; y < code.Size; y++ {
		for x := 0; x < code.Size; {
			if !code.Black(x, y) {
				x++
				continue
			}
			start := x
			for x < code.Size && code.Black(x, y) {
				x++
			}
			b = append(b, 'm')
			b = strconv.AppendInt(b, int64(start+quietZone-cx), 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(y+quietZone-cy), 10)
			b = append(b, 'h')
			b = strconv.AppendInt(b, int64(x-start), 10)
			b = append(b, "v1h-"...)
			b = strconv.AppendInt(b, int64(x-start), 10)
			b = append(b, 'z')
			cx, cy = start+quietZone, y+quietZone
		}
	}
	b = append(b, `"/></svg>`...)
	return string(b)
}
