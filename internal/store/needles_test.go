package store

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query"
	"github.com/danang-soc/vigil/internal/query/match"
)

// TestLowerASCII checks the eight-bytes-at-a-time lower-casing against
// a byte at a time over every byte value at every offset.
func TestLowerASCII(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for n := range 40 {
		s := make([]byte, n)
		for i := range s {
			s[i] = byte(r.IntN(256))
		}
		if n == 39 {
			for i := range s {
				s[i] = byte(i + 50) // through '@', 'A'..'Z', '[' and the lower case
			}
		}
		want := make([]byte, n)
		for i, c := range s {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			want[i] = c
		}
		if got := lowerASCII([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("lowerASCII(%q) = %q, want %q", s, got[1:], want)
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	got := lowerASCII(nil, all)
	for i, c := range got {
		want := byte(i)
		if 'A' <= want && want <= 'Z' {
			want += 'a' - 'A'
		}
		if c != want {
			t.Errorf("byte %#x lower-cased to %#x, want %#x", i, c, want)
		}
	}
}

// FuzzNeedles: what a search skips by needles, hosts and time bounds, the
// matcher would not have matched; what it takes whole by hosts, the
// matcher matches.
func FuzzNeedles(f *testing.F) {
	for _, seed := range [][5]string{
		{`password AND host.name:DB07`, "password authentication failed", "db07", "alice", "SELECT 1"},
		{`user.name:ALICE OR message:"a b"`, "x a b y", "h", "alice", ""},
		{`"đăng nhập" AND db.statement:*citizens*`, "Đăng nhập thất bại", "Máy-1", "bob", "select * from citizens"},
		{`host.name:(a OR b) AND @timestamp:[2026-03-10 TO 2026-03-11]`, "", "B", "", ""},
		{`caf* AND NOT x`, "café crème", "h", "", ""},
		{`n:1000* AND n:*000.0`, "", "h", "1e3", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4])
	}
	f.Fuzz(func(t *testing.T, q, msg, host, user, stmt string) {
		node, err := query.Parse(q)
		if err != nil {
			return
		}
		m, err := match.Compile(node, q, t0)
		if err != nil {
			return
		}
		e := event.Event{Time: t0, Received: t0, ID: event.NewID(t0)}
		for k, v := range map[string]string{"message": msg, "host.name": host, "user.name": user, "db.statement": stmt} {
			if v != "" {
				e.Fields.Set(k, event.String(v))
			}
		}
		if event.ValidNumber(user) { // numbers are compared by their text too
			e.Fields.Set("n", event.Number(user))
		}
		doc := e.AppendJSON(nil)
		stored, err := event.DecodeJSON(doc)
		if err != nil {
			t.Fatal(err)
		}
		matched := m.Match(&stored)
		ok, _ := holdsNeedles(doc, needles(node), nil)
		if matched && !ok {
			t.Fatalf("%q matches %s, but its needles %+v are not in it", q, doc, needles(node))
		}
		var hosts blockHosts
		hosts.add(match.Host(&e))
		sc := newestScan{hosts: hostSets(node), hostsOnly: hostsOnly(node)}
		if summary := hosts.summary(); matched && len(summary) > 0 {
			for _, set := range sc.hosts {
				if !slices.Contains(set, strings.TrimSuffix(string(summary), "\x00")) {
					t.Fatalf("%q matches %s, but skips a block of host %q", q, doc, summary)
				}
			}
		}
		lo, hi := m.TimeBounds()
		if matched && (nanos(e.Time) < lo || nanos(e.Time) >= hi) {
			t.Fatalf("%q matches %s, outside its time bounds [%d, %d)", q, doc, lo, hi)
		}
		if inBounds := nanos(e.Time) >= lo && nanos(e.Time) < hi; inBounds && sc.blockMatches(hosts.summary()) && !matched {
			t.Fatalf("%q takes a block of host %q whole, but does not match %s", q, hosts.summary(), doc)
		}
	})
}
