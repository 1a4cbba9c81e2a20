package dashboards

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/danang-soc/vigil/internal/identity"
)

// serveStream is GET /api/v1/stream, behind the identity middleware: the
// caller must be authenticated (401) and may read (403); a browser session
// must come from the console's origin (403), which stops other sites from
// riding on the cookie (cross-site websocket hijacking). Query parameters
// since and epoch resume after a drop.
func (c *Console) serveStream(w http.ResponseWriter, r *http.Request) {
	p, ok := identity.FromContext(r.Context())
	if !ok {
		identity.WriteError(w, http.StatusUnauthorized, "unauthenticated", "log in or send an API token")
		return
	}
	if p.Kind == identity.KindSession && !c.sameOrigin(r) {
		// Browsers hide this answer from the page: say it where operators look.
		c.deps.Log.Warn("websocket refused: origin is not the console's", "origin", r.Header.Get("Origin"),
			"console_origin", c.cfg.Origin, "host", r.Host, "user", p.Name)
		identity.WriteError(w, http.StatusForbidden, "bad_origin", "websocket origin not allowed")
		return
	}
	if !p.Can(identity.PermRead) {
		identity.WriteError(w, http.StatusForbidden, "forbidden", "role "+string(p.Role)+" may not read")
		return
	}
	var from resume
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			identity.WriteError(w, http.StatusBadRequest, "bad_since", "since must be a sequence number")
			return
		}
		from = resume{ok: true, since: n, epoch: r.URL.Query().Get("epoch")}
	}
	if !websocket.IsWebSocketUpgrade(r) {
		identity.WriteError(w, http.StatusBadRequest, "not_websocket", "this endpoint speaks websocket")
		return
	}
	cl, backlog, err := c.hub.subscribe(from, !p.Can(identity.PermSeePersonalData))
	if err != nil {
		w.Header().Set("Retry-After", "5")
		identity.WriteError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	defer c.hub.unsubscribe(cl)
	up := websocket.Upgrader{
		ReadBufferSize: 512, WriteBufferSize: 4096,
		CheckOrigin: func(*http.Request) bool { return true }, // checked above, for sessions
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client
	}
	defer conn.Close()
	// A session's websocket lives no longer than the session: it ends at
	// the absolute expiry, and at the next keep-alive after a logout, a
	// password change or the idle expiry.
	var valid func() bool
	var deadline <-chan time.Time
	if p.Kind == identity.KindSession {
		valid = func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := c.deps.Identity.LookupSession(ctx, p.SessionID)
			return err == nil
		}
		t := time.NewTimer(max(0, p.Expires.Sub(c.deps.Now())))
		defer t.Stop()
		deadline = t.C
	}
	c.hub.pump(conn, cl, backlog, valid, deadline)
}

// sameOrigin reports whether the request's Origin is the console's: the
// configured origin, or else the request's own host.
func (c *Console) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	if c.cfg.Origin != "" {
		return strings.EqualFold(strings.TrimSuffix(o, "/"), c.cfg.Origin)
	}
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host)
}

// pump writes the backlog, then whatever the hub sends, with pings, until
// the client goes, fails to answer, or is kicked. A reader goroutine
// handles pongs and the client's close.
//
// valid, when set, is asked at every keep-alive whether the client may go
// on; deadline, when set, ends the connection.
func (h *Hub) pump(conn *websocket.Conn, cl *client, backlog []*websocket.PreparedMessage, valid func() bool, deadline <-chan time.Time) {
	pongWait := 2 * h.cfg.PingInterval
	conn.SetReadLimit(4096)
	conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			// Clients send nothing meaningful; reading processes control
			// frames and notices the close.
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	write := func(pm *websocket.PreparedMessage) error {
		conn.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
		return conn.WritePreparedMessage(pm)
	}
	for _, pm := range backlog {
		if write(pm) != nil {
			return
		}
	}
	ping := time.NewTicker(h.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case pm := <-cl.send:
			if write(pm) != nil {
				return
			}
		case <-ping.C:
			if valid != nil && !valid() {
				closeWith(conn, websocket.ClosePolicyViolation, "session ended")
				return
			}
			if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.cfg.WriteTimeout)) != nil {
				return
			}
		case <-deadline:
			closeWith(conn, websocket.ClosePolicyViolation, "session expired")
			return
		case <-cl.kicked:
			msg := "server shutting down"
			if cl.reason == websocket.CloseTryAgainLater {
				msg = "too slow: resume with since"
			}
			closeWith(conn, cl.reason, msg)
			return
		case <-gone:
			return
		}
	}
}

func closeWith(conn *websocket.Conn, code int, reason string) {
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}
