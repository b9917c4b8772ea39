// Package static owns the site's own assets (CSS, JS, images): it embeds
// them, names them with checksummed URLs and serves them. Everything the
// pages load comes from here, so the strict CSP ('self' only) holds.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

// FS holds the embedded assets, by path relative to this folder
// ("css/app.css").
//
//go:embed css js img
var FS embed.FS

// asset is one embedded file with its content version.
type asset struct {
	body    []byte
	version string // first 10 hex digits of the SHA-256 of body
}

// assets is computed once: the files never change while the binary runs.
var assets = mustLoad(FS)

func mustLoad(fsys fs.FS) map[string]asset {
	m := map[string]asset{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[name] = asset{body: b, version: hex.EncodeToString(sum[:])[:10]}
		return nil
	})
	if err != nil {
		panic("static: reading embedded assets: " + err.Error())
	}
	return m
}

// Path returns the URL of an asset with its content version, so browsers
// may cache it forever and still see a new file after a deploy. A name
// that is not embedded gets a plain URL (and a 404 when fetched).
func Path(name string) string {
	name = strings.TrimPrefix(name, "/")
	a, ok := assets[name]
	if !ok {
		return "/static/" + name
	}
	return "/static/" + name + "?v=" + a.version
}

// Handler serves the assets under /static/. A request carrying the current
// version (?v=) may be cached as immutable; any other is revalidated by
// ETag, so a stale or unversioned URL never pins an old file. Folders are
// not listed.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, "/static/")
		a, found := assets[name]
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("ETag", `"`+a.version+`"`)
		if r.URL.Query().Get("v") == a.version {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, no-cache")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		// ServeContent sets the type from the extension, answers
		// If-None-Match with 304 and handles ranges.
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
}
