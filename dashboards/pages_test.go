package dashboards

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/danang-soc/vigil/internal/identity"
)

// TestConsolePagesByRole opens every console page as every role: readers
// get the page (viewers without the controls that change anything), an
// agent account gets 403, and nobody signed in goes to the login page.
func TestConsolePagesByRole(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	for _, r := range identity.Roles() {
		if _, err := e.ids.CreateUser(ctx, "u-"+string(r), testPassword, r); err != nil {
			t.Fatal(err)
		}
	}
	pages := []struct {
		path     string
		controls []string // shown only to roles that may work incidents
	}{
		{"/", nil},
		{"/incidents", []string{`id="bulk"`, `id="select-all"`}},
		{"/incidents/01M8M6AB78DDANY1B3SN90HD6F", []string{`id="status-form"`, `id="assign-form"`, `id="note-form"`, `id="suppress-form"`}},
		{"/search", []string{`id="save"`, `id="delete-saved"`}},
		{"/dashboards", nil},
		{"/rules", nil},
	}
	for _, role := range append([]identity.Role{""}, identity.Roles()...) {
		c := e.browser(t)
		if role != "" {
			if resp := e.login(t, c, "u-"+string(role), testPassword); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login as %s: %d", role, resp.StatusCode)
			}
		}
		for _, pg := range pages {
			t.Run(string(role)+" "+pg.path, func(t *testing.T) {
				resp, body := get(t, c, e.srv.URL+pg.path)
				switch {
				case role == "":
					if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
						t.Errorf("signed out: %d to %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
					}
					return
				case role == identity.RoleAgent:
					if resp.StatusCode != http.StatusForbidden {
						t.Errorf("agent: %d, want 403", resp.StatusCode)
					}
					return
				}
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d, want 200", role, resp.StatusCode)
				}
				checkPageHeaders(t, resp)
				checkNoInlineScript(t, body)
				work := identity.Can(role, identity.PermWorkIncidents)
				if got := strings.Contains(body, `data-can-work="true"`); got != work {
					t.Errorf("data-can-work true: %v, want %v", got, work)
				}
				for _, ctl := range pg.controls {
					if got := strings.Contains(body, ctl); got != work {
						t.Errorf("page shows %s: %v, want %v", ctl, got, work)
					}
				}
				if !strings.Contains(body, `aria-current="page"`) {
					t.Error("the navigation does not mark the current page")
				}
			})
		}
	}
}
