package qrsvg

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fakeBOLT11 builds a bech32-shaped invoice of n characters; the QR code
// does not care whether the checksum is right.
func fakeBOLT11(n int) string {
	s := "lnbc21u1p"
	for i := 0; len(s) < n; i++ {
		s += string(bech32Charset[(i*7+3)%len(bech32Charset)])
	}
	return s
}

var (
	svgHead = regexp.MustCompile(`^<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 (\d+) (\d+)" width="(\d+)" height="(\d+)" shape-rendering="crispEdges"[^>]*><rect width="(\d+)" height="(\d+)" fill="#fff"/><path fill="#000" d="([^"]*)"/></svg>$`)
	run     = regexp.MustCompile(`^m(-?\d+) (\d+)h(\d+)v1h-(\d+)z`)
)

// grid parses SVG's output back into a module matrix (quiet zone
// included), failing the test if the markup is not the expected shape.
func grid(t *testing.T, svg string) (modules [][]bool, width int) {
	t.Helper()
	m := svgHead.FindStringSubmatch(svg)
	if m == nil {
		t.Fatalf("unexpected SVG shape: %.200s", svg)
	}
	n, _ := strconv.Atoi(m[1])
	if m[2] != m[1] || m[5] != m[1] || m[6] != m[1] {
		t.Fatalf("viewBox/background not square %s: %.200s", m[1], svg)
	}
	if m[3] != m[4] {
		t.Fatalf("width %s != height %s", m[3], m[4])
	}
	width, _ = strconv.Atoi(m[3])
	modules = make([][]bool, n)
	for i := range modules {
		modules[i] = make([]bool, n)
	}
	d := m[7]
	x0, y0 := 0, 0 // pen position: the previous run's start
	for d != "" {
		r := run.FindStringSubmatch(d)
		if r == nil {
			t.Fatalf("bad path segment at %.40q", d)
		}
		dx, _ := strconv.Atoi(r[1])
		dy, _ := strconv.Atoi(r[2])
		x, y := x0+dx, y0+dy
		x0, y0 = x, y
		l, _ := strconv.Atoi(r[3])
		if r[3] != r[4] || l < 1 || x < 0 || x+l > n || y >= n {
			t.Fatalf("run out of bounds: %s", r[0])
		}
		for i := x; i < x+l; i++ {
			if modules[y][i] {
				t.Fatalf("module (%d,%d) drawn twice", i, y)
			}
			modules[y][i] = true
		}
		d = d[len(r[0]):]
	}
	return modules, width
}

// checkSymbol asserts the structure every QR symbol has: a blank quiet
// zone, a side of 17+4v modules, the three finder patterns and the timing
// patterns between them.
func checkSymbol(t *testing.T, g [][]bool) (version int) {
	t.Helper()
	n := len(g)
	side := n - 2*quietZone
	if (side-17)%4 != 0 || side < 21 || side > 177 {
		t.Fatalf("symbol side %d is not 17+4v", side)
	}
	for y := range n {
		for x := range n {
			inside := x >= quietZone && y >= quietZone && x < n-quietZone && y < n-quietZone
			if !inside && g[y][x] {
				t.Fatalf("dark module (%d,%d) in the quiet zone", x, y)
			}
		}
	}
	at := func(x, y int) bool { return g[y+quietZone][x+quietZone] }
	finder := func(ox, oy int) {
		for dy := range 7 {
			for dx := range 7 {
				ring := max(abs(dx-3), abs(dy-3))
				want := ring != 2 // dark 3x3 core, light ring, dark border
				if at(ox+dx, oy+dy) != want {
					t.Fatalf("finder at (%d,%d): module (%d,%d) is %v", ox, oy, dx, dy, !want)
				}
			}
		}
	}
	finder(0, 0)
	finder(side-7, 0)
	finder(0, side-7)
	for i := 8; i < side-8; i++ {
		if at(i, 6) != (i%2 == 0) || at(6, i) != (i%2 == 0) {
			t.Fatalf("timing pattern broken at %d", i)
		}
	}
	return (side - 17) / 4
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestSVGIsAQRSymbolThatGrowsWithItsText(t *testing.T) {
	tests := []struct {
		name string
		text string
	}{
		{"short url", "https://example.org/o/x"},
		{"lnurl", "LNURL1DP68GURN8GHJ7UM9WFMXJCM99E3K7MF0V9CXJ0M385EKVCENXC6R2C35XVUKXEFCV5MKVV34X5EKZD3EV56NYD3HXQURZEPEXEJXXEPNXSCRVWFNV9NXZCN9XQ6XYEFHVGCXXCMYXYMNSERXFQ5FNS"},
		{"bolt11 400", "lightning:" + fakeBOLT11(400)},
		{"bolt11 700", "lightning:" + fakeBOLT11(700)},
		{"bytes 1500", strings.Repeat("é", 750)},
		{"bytes at the limit", strings.Repeat("a~", MaxInputBytes/2)},
	}
	prev := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg, err := SVG(tt.text, 320)
			if err != nil {
				t.Fatalf("SVG: %v", err)
			}
			if strings.Contains(svg, "style") {
				t.Errorf("SVG has a style attribute: CSP would block it")
			}
			g, width := grid(t, svg)
			if width != 320 {
				t.Errorf("width = %d, want 320", width)
			}
			v := checkSymbol(t, g)
			if v <= prev {
				t.Errorf("version %d for a longer text than the previous one (%d)", v, prev)
			}
			prev = v
		})
	}
}

func TestSVGIsDeterministic(t *testing.T) {
	text := "lightning:" + fakeBOLT11(400)
	a, err := SVG(text, 256)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b, err := SVG(text, 256)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatal("two renders of the same text differ")
		}
	}
}

func TestSVGFoldsCaseOfLightningStringsOnly(t *testing.T) {
	inv := fakeBOLT11(400)
	lower, err := SVG("lightning:"+inv, 200)
	if err != nil {
		t.Fatal(err)
	}
	upper, err := SVG("LIGHTNING:"+strings.ToUpper(inv), 200)
	if err != nil {
		t.Fatal(err)
	}
	if lower != upper {
		t.Error("a lower-case invoice should be drawn as its upper-case form")
	}
	// Upper case packs into alphanumeric mode: a smaller symbol than the
	// same length of case-sensitive text.
	gl, _ := grid(t, lower)
	other, err := SVG("https://example.org/"+inv[:390], 200)
	if err != nil {
		t.Fatal(err)
	}
	gp, _ := grid(t, other)
	if len(gl) >= len(gp) {
		t.Errorf("invoice symbol %d modules, plain text symbol %d: alphanumeric mode not used", len(gl), len(gp))
	}

	tests := []struct {
		in, want string
	}{
		{"lnbc1pvjluezsp5zyg3zyg3zyg3", "LNBC1PVJLUEZSP5ZYG3ZYG3ZYG3"},
		{"lightning:lnurl1dp68gurn8ghj7", "LIGHTNING:LNURL1DP68GURN8GHJ7"},
		{"LNURL1DP68GURN8GHJ7", "LNURL1DP68GURN8GHJ7"},
		{"lnbc1PvjluezSP5", "lnbc1PvjluezSP5"},                           // mixed case is not bech32
		{"lnbc1pvjluezbio", "lnbc1pvjluezbio"},                           // b, i, o are not in the alphabet
		{"satoshi@example.org", "satoshi@example.org"},                   // a Lightning Address is not bech32
		{"https://example.org/a1qqqqqq", "https://example.org/a1qqqqqq"}, // URLs keep their case
		{"lightning:", "lightning:"},
	}
	for _, tt := range tests {
		if got := foldCase(tt.in); got != tt.want {
			t.Errorf("foldCase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSVGRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		size    int
		tooLong bool
	}{
		{"over the byte limit", strings.Repeat("a", MaxInputBytes+1), 200, true},
		{"far over", strings.Repeat("€", 2000), 200, true},
		{"empty", "", 200, false},
		{"zero size", "x", 0, false},
		{"negative size", "x", -5, false},
		{"huge size", "x", MaxSize + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg, err := SVG(tt.text, tt.size)
			if err == nil {
				t.Fatalf("no error, got %d bytes of SVG", len(svg))
			}
			if got := errors.Is(err, ErrTooLong); got != tt.tooLong {
				t.Errorf("errors.Is(err, ErrTooLong) = %v, want %v (%v)", got, tt.tooLong, err)
			}
		})
	}
}

func BenchmarkSVGBOLT11(b *testing.B) {
	text := "lightning:" + fakeBOLT11(400)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		svg, err := SVG(text, 320)
		if err != nil {
			b.Fatal(err)
		}
		n = len(svg)
	}
	b.ReportMetric(float64(n), "svg-bytes")
}
