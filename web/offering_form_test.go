package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/keepalive/keepalive/internal/db"
	"github.com/keepalive/keepalive/internal/db/dbtest"
)

// The new-offering form reports every problem at once, in one wording,
// with the limits the server checks; the address is suggested from the
// name and "wiki.example.org" gets https://.
func TestOfferingFormReportsEverythingAtOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newSite(t, d)
		b := newBrowser(t, s)
		_, page, _ := b.get("/offerings/new")
		if !strings.Contains(page, `id="slug" name="slug" type="text" value="" required maxlength="40"`) || !strings.Contains(page, `maxlength="80"`) {
			t.Fatalf("form limits differ from the server's")
		}
		status, body, _ := b.post("/offerings/new", "/offerings", url.Values{})
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("empty submit: %d", status)
		}
		for _, id := range []string{"name-error", "slug-error", "url-error", "burn_amount-error"} {
			if !strings.Contains(body, `id="`+id+`"`) {
				t.Errorf("empty submit: no %s", id)
			}
		}
		if !strings.Contains(body, "Some values need another look.") {
			t.Error("empty submit: not the one wording")
		}

		// A slug error that only the domain sees comes with the form's own
		// (burn amount) error, in the same wording.
		form := offeringForm("ab-")
		form.Set("burn_amount", "lots")
		_, body, _ = b.post("/offerings/new", "/offerings", form)
		if !strings.Contains(body, `id="slug-error"`) || !strings.Contains(body, `id="burn_amount-error"`) ||
			!strings.Contains(body, "3 to 40 characters") || !strings.Contains(body, "Some values need another look.") {
			t.Fatalf("slug and burn problems not reported together: %.2000s", body)
		}

		form = offeringForm("")
		form.Set("name", "My Café Server!")
		form.Set("url", "wiki.example.org")
		status, body, _ = b.post("/offerings/new", "/offerings", form)
		if status != http.StatusCreated {
			t.Fatalf("name-only submit: %d %s", status, regexp.MustCompile(`field__error[^<]*<[^<]*`).FindAllString(body, -1))
		}
		o, err := s.offerings.Get(t.Context(), "my-cafe-server")
		if err != nil || o.URL != "https://wiki.example.org" {
			t.Fatalf("suggested slug / https: %+v %v", o, err)
		}
	})
}
