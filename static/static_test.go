package static

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	versioned := regexp.MustCompile(`^/static/css/app\.css\?v=[0-9a-f]{10}$`)
	if got := Path("css/app.css"); !versioned.MatchString(got) {
		t.Errorf("Path(css/app.css) = %q, want a 10-hex version", got)
	}
	if Path("/css/app.css") != Path("css/app.css") {
		t.Error("a leading slash should not change the path")
	}
	if got := Path("css/missing.css"); got != "/static/css/missing.css" {
		t.Errorf("Path(missing) = %q, want an unversioned URL", got)
	}
	// The version is the content's hash, so a changed file gets a new URL.
	body, err := FS.ReadFile("js/app.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if want := "/static/js/app.js?v=" + hex.EncodeToString(sum[:])[:10]; Path("js/app.js") != want {
		t.Errorf("Path(js/app.js) = %q, want %q", Path("js/app.js"), want)
	}
}

func TestHandler(t *testing.T) {
	h := Handler()
	cssURL := Path("css/app.css")
	version := cssURL[strings.Index(cssURL, "?v=")+3:]

	cases := []struct {
		name, method, target string
		header               map[string]string
		status               int
		cache, ctype         string
	}{
		{name: "versioned is immutable", method: "GET", target: cssURL, status: 200,
			cache: "public, max-age=31536000, immutable", ctype: "text/css"},
		{name: "stale version is revalidated", method: "GET", target: "/static/css/app.css?v=0000000000", status: 200,
			cache: "public, no-cache", ctype: "text/css"},
		{name: "unversioned is revalidated", method: "GET", target: "/static/js/app.js", status: 200,
			cache: "public, no-cache", ctype: "text/javascript"},
		{name: "svg", method: "GET", target: Path("img/favicon.svg"), status: 200, ctype: "image/svg+xml",
			cache: "public, max-age=31536000, immutable"},
		{name: "etag hit", method: "GET", target: cssURL, header: map[string]string{"If-None-Match": `"` + version + `"`}, status: 304},
		{name: "missing", method: "GET", target: "/static/css/nope.css", status: 404},
		{name: "no folder listing", method: "GET", target: "/static/css/", status: 404},
		{name: "no traversal", method: "GET", target: "/static/../static.go", status: 404},
		{name: "outside prefix", method: "GET", target: "/css/app.css", status: 404},
		{name: "post refused", method: "POST", target: cssURL, status: 405},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.target, nil)
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != c.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, c.status)
			}
			if c.cache != "" && res.Header.Get("Cache-Control") != c.cache {
				t.Errorf("Cache-Control = %q, want %q", res.Header.Get("Cache-Control"), c.cache)
			}
			if c.ctype != "" && !strings.HasPrefix(res.Header.Get("Content-Type"), c.ctype) {
				t.Errorf("Content-Type = %q, want %q", res.Header.Get("Content-Type"), c.ctype)
			}
			if c.status == 200 {
				body, _ := io.ReadAll(res.Body)
				if len(body) == 0 {
					t.Error("empty body")
				}
			}
		})
	}
}

func TestHandlerServesEmbeddedBytes(t *testing.T) {
	want, err := FS.ReadFile("css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path("css/app.css"), nil))
	if rec.Body.String() != string(want) {
		t.Error("served CSS differs from the embedded file")
	}
}

// A merge once left a rule of app.css unclosed, which swallowed every rule
// after it (the widget lost its 300 × 180 layout): braces must balance.
func TestCSSBracesBalance(t *testing.T) {
	css, err := FS.ReadFile("css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	depth := 0
	for i, line := range strings.Split(string(css), "\n") {
		depth += strings.Count(line, "{") - strings.Count(line, "}")
		if depth < 0 {
			t.Fatalf("app.css line %d closes a brace never opened", i+1)
		}
	}
	if depth != 0 {
		t.Fatalf("app.css leaves %d braces open", depth)
	}
}
