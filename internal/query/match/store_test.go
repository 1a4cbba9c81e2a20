package match_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/query"
	"github.com/danang-soc/vigil/internal/query/match"
	"github.com/danang-soc/vigil/internal/store"
)

// now is the store's clock in the differential tests.
var now = t0.Add(36 * time.Hour)

// diffStore is a store holding events, and the events as it returns them.
type diffStore struct {
	s       *store.Store
	written []event.Event
	all     []event.Event // as the store returns them
}

func openDiffStore(t *testing.T, evs []event.Event) *diffStore {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, store.Config{Path: filepath.Join(t.TempDir(), store.FileName), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if n, err := s.WriteEvents(ctx, evs); err != nil || n != len(evs) {
		t.Fatalf("WriteEvents = %d, %v; want %d", n, err, len(evs))
	}
	d := &diffStore{s: s, written: evs}
	all, err := d.search("")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(evs) {
		t.Fatalf("the store returns %d events of %d", len(all), len(evs))
	}
	d.all = all
	return d
}

// search returns every event that the store finds for q.
func (d *diffStore) search(q string) ([]event.Event, error) {
	var out []event.Event
	cursor := ""
	for {
		page, err := d.s.Events(context.Background(), store.Query{Q: q, Limit: store.MaxLimit, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out, nil
		}
		cursor = page.Next
	}
}

// check runs q through the store and the matcher over the stored events,
// and reports any difference.
func (d *diffStore) check(t *testing.T, q string) (compared bool, found int) {
	t.Helper()
	sqlEvs, sqlErr := d.search(q)
	node, err := query.Parse(q)
	var m *match.Matcher
	if err == nil {
		m, err = match.Compile(node, q, now)
	}
	if sqlErr != nil || err != nil {
		var want, got *query.Error
		switch {
		case !errors.As(sqlErr, &want):
			t.Errorf("query %q: store: %v; matcher: %v", q, sqlErr, err)
		case !errors.As(err, &got):
			t.Errorf("query %q: store: %v; matcher: %v", q, sqlErr, err)
		case *got != *want:
			t.Errorf("query %q: matcher error %+v, want %+v", q, *got, *want)
		}
		return false, 0
	}
	// The store tests each event it reads with the matcher, on the event
	// as it decodes it: what it finds must be what the matcher finds over
	// every stored event, whatever blocks its time ranges, full text and
	// needles let it skip. (What the matcher finds is checked against the
	// store of old, which answered in SQL, by TestSQLGolden.)
	want := ids(sqlEvs)
	var got []string
	for i := range d.all {
		if m.Match(&d.all[i]) {
			got = append(got, d.all[i].ID.String())
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("query %q (%s):\n%s", q, node, d.diff(got, want))
	}
	// Decoding only the fields the query reads changes nothing.
	for i := range d.written {
		doc := d.written[i].AppendJSON(nil)
		full, err := event.DecodeJSON(doc)
		if err != nil {
			t.Fatal(err)
		}
		part, err := event.DecodeJSONKeys(doc, m.Reads)
		if err != nil {
			t.Fatal(err)
		}
		if m.Match(&full) != m.Match(&part) {
			t.Errorf("query %q on %s: %v decoded whole, %v decoded for its fields", q, doc, m.Match(&full), m.Match(&part))
		}
	}
	return true, len(want)
}

func ids(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = evs[i].ID.String()
	}
	slices.Sort(out)
	return out
}

// diff describes the events that one side matches and the other not.
func (d *diffStore) diff(got, want []string) string {
	var b strings.Builder
	if len(got)+len(want) <= 20 {
		b.WriteString("  matcher: " + strings.Join(got, " ") + "\n  store:   " + strings.Join(want, " ") + "\n")
	} else {
		fmt.Fprintf(&b, "  the matcher finds %d events, the store %d\n", len(got), len(want))
	}
	for _, id := range got {
		if !slices.Contains(want, id) {
			b.WriteString("  only the matcher: " + d.describe(id) + "\n")
		}
	}
	for _, id := range want {
		if !slices.Contains(got, id) {
			b.WriteString("  only the store: " + d.describe(id) + "\n")
		}
	}
	return b.String()
}

func (d *diffStore) describe(id string) string {
	for i := range d.written {
		if d.written[i].ID.String() == id {
			return string(d.written[i].AppendJSON(nil))
		}
	}
	return id
}

// handQueries are the cases that the random queries may miss.
var handQueries = []string{
	"", "*", "db01", "DB01", "host.name:db01", "host.name:DB01", "host.name:db0?", "host.name:*01", "host.name:*", "NOT host.name:*",
	"host.name:5", "host.name:true", "host.name:[1 TO 3]", "host.name:>5", "host.name:[a TO z]", "host.name:{* TO *}", "host.name:>nan", "NOT host.name:>nan",
	"host.name:máy-chủ-1", "host.name:MÁY-CHỦ-1", "host.name:máy*", "host.name:MÁY*", "host.name:m?y*",
	"logsource.product:postgresql", "logsource.product:élan", "logsource.product:[l TO p]", "logsource.product:*", "logsource.service:*",
	"logsource.category:process_creation", "logsource.category:process?creation", "logsource.category:process\\_creation",
	"user.name:admin", "user.name:ADMIN", "user.name:42", "user.name:42.0", "user.name:4.5", "user.name:true", "user.name:false", "user.name:null",
	"user.name:alice", "user.name:x", "user.name:7", "user.name:*", "NOT user.name:*", "user.name:\"\"", "user.name:nguyễn", "user.name:NGUYỄN",
	"user.name:*ễ*", "user.name:a_b%c", "user.name:a?b%c", "user.name:*%*", "user.name:*_*", "user.name:naïve", "user.name:NAÏVE",
	"user.name:[a TO z]", "user.name:>=40", "user.name:[* TO *]", "user.name:>nan", "NOT user.name:>nan", "user.name:nan", "NOT user.name:nan",
	"db.response.rows:42", "db.response.rows:42.0", "db.response.rows:>=42", "db.response.rows:<0", "db.response.rows:[1 TO 5]",
	"db.response.rows:{1 TO 5}", "db.response.rows:1e999", "db.response.rows:inf", "db.response.rows:-inf", "db.response.rows:>1e300",
	"db.response.rows:12345678901234567890", "db.response.rows:1.2345678901234567e19", "db.response.rows:9007199254740993",
	"db.response.rows:9007199254740992", "db.response.rows:0.1", "db.response.rows:-0", "db.response.rows:0", "db.response.rows:100",
	"db.response.rows:1000", "db.response.rows:abc", "db.response.rows:[a TO b]", "db.response.rows:*", "db.response.rows:1*",
	"db.response.rows:*.0", "db.response.rows:*e*", "db.response.rows:*E*", "db.response.rows:1.0e-05", "db.response.rows:*Inf*",
	"db.response.rows:3", "db.response.rows:7.5", "db.response.rows:true", "db.response.rows:null", "db.response.rows:nan", "NOT db.response.rows:nan",
	"NOT db.response.rows:>nan", "db.response.rows:[* TO *]", "db.response.rows: 42", "db.response.rows:\" 42 \"", "db.response.rows:0x2A",
	"db.response.rows:0.30000000000000004", "db.response.rows:*00004", "db.response.rows:*0.3*", "db.response.rows:1e2", "db.response.rows:100000*",
	"process.pid:812", "process.pid:0812", "process.pid:812.0", "process.pid:*81*", "process.pid:>100", "process.pid:[0 TO 1000]",
	"process.pid:3.25", "process.pid:99999999999999999999", "process.pid:1e20", "process.pid:*e*", "process.pid:1.0e+20",
	"http.status:404", "http.status:OK", "http.status:ok", "http.status:200", "http.status:false", "http.status:null", "http.status:*",
	"tags:prod", "tags:PROD", "tags:db", "tags:true", "tags:null", "tags:*", "NOT tags:*", "tags:\"a b\"", "tags:c*d", "tags:c\\*d", "tags:[a TO c]",
	"labels.env:prod", "labels.env:prød", "labels.env:PRØD", "labels.env:[p TO q]", "labels.env:>=PROD", "labels.env:[Dev TO dev-2]",
	"weird:x", "weird:<tag>", "weird:a&b", "weird:\"quote\\\"d\"", "weird:nul*", "weird:\"nul\"", "weird:*byte", "weird:[nul TO num]", "weird:*line",
	"a&b:prod", "a&b:*", "event.original:*", "event.original:\"raw line 1\"", "event.original:raw*", "event.original:5", "event.original:o1",
	"event.original:true", "NOT event.original:*",
	"message:*", "NOT message:*", "db.statement:*", "message:42", "message:3.14", "message:true", "message:*1*", "message:x",
	"password", "Password", "PASSWORD", "\"authentication failed\"", "\"failed authentication\"", "authen*", "authen*ion", "*authen*",
	"đăng nhập", "\"đăng nhập\"", "\"dang nhap\"", "Đăng", "dang", "DANG", "nhap*", "\"đăng nh\"*", "\"dang nh*\"", "thất", "that",
	"tiếng", "tieng", "\"tieng viet\"", "toi", "hanh", "decomposed", "e", "a", "o", "u", "ux", "cafe", "café", "naive", "resume", "strasse",
	"straße", "σίσυφος", "σισυφος", "ΣΙΣΥΦΟΣ", "мир", "日本語", "中文", "文本", "日本語のテキスト", "🔥", "fire", "firefire", "fire*", "✅", "ok",
	"½", "²", "x²y", "x2y", "ⅻ", "①", "1", "\ue000", "\ue000\ue001", "private", "under_score", "under", "score", "\"under score\"",
	"and-dash", "\"and dash\"", "dash", "and.dot", "100%", "100", "done_ok", "done", "\\-", "\"-\"", "*.*", "\"*.*\"", "\"(x)\"", "x", "y",
	"İstanbul", "istanbul", "ıi", "kelvin", "\u212a", "k", "ǅemal", "dzemal", "ǆemal", "ǈ", "lj", "\U0001e922", "\U0001e900", "adlam",
	"mixed123numbers", "mixed*", "456", "7.8.9", "\"7 8 9\"", "8", "d", "dd", "\"d d\"", "đđ", "fi", "file", "ﬁle", "ligature", "xy", "x",
	"ab", "zero", "ＡＢＣ", "abc", "１２３", "123", "ⓐ", "Ⓐ", "circled", "first line", "\"first line\"", "\"line second\"",
	"\"line, second\"", "\"first line second line\"", "second", "begin", "commit", "\"begin commit\"", "đăng", "nhập", "\"đăng nhập\"",
	"message:password", "message:\"authentication failed\"", "db.statement:select", "db.statement:\"drop table\"", "db.statement:citizens",
	"message:citizens", "message:*tmp*", "db.statement:*tmp*", "message:-", "message:\"*.*\"", "db.statement:*'*", "message:first*line",
	"message:\"first line\"", "message:*line", "*line", "*line*", "first*", "f?rst", "*ng nh*", "*đăng*", "*Đăng*", "*ĐĂNG*",
	"password AND failed", "password OR citizens", "password AND NOT admin", "NOT password", "NOT (password OR đăng)", "(password OR đăng) AND host.name:db01",
	"password failed admin", "password -admin", "password +admin", "\"\"", "\" \"", "message:\"\"", "a*", "\"a\"*",
	"@timestamp:2026-03-10", "@timestamp:[2026-03-10 TO 2026-03-11]", "@timestamp:{2026-03-10 TO 2026-03-11}", "@timestamp:[2026-03-10 TO *]",
	"@timestamp:>2026-03-11", "@timestamp:<=2026-03-10", "@timestamp:>=now-1d", "@timestamp:<now-2d", "@timestamp:[* TO *]", "NOT @timestamp:*",
	"@timestamp:2026-03-10T08:00:00Z", "@timestamp:\"2026-03-11 00:00\"", "@timestamp:[2026-03-10T08:00 TO 2026-03-10T09:00]",
	"@timestamp:[now-36h TO now-12h]", "@timestamp:now", "event.ingested:*", "event.ingested:[2026-03-10 TO 2026-03-10]",
	"@timestamp:2026-13-01", "@timestamp:yesterday", "@timestamp:now-1y", "@timestamp:2026*", "@timestamp:[2026-03-10 TO tomorrow]",
	"event.id:abc", "event.id:01*", "event.id:[a TO b]", "event.id:*", "NOT event.id:*", "event.id:01ARZ3NDEKTSV4RRFFQ69G5FAV",
	"a\\\"b:x", "a\\\"b:*", "a\\\"b:>1", "a\\\\b:x", "\"x\" AND a\\\"b:x", "missing.field:x", "missing.field:*", "NOT missing.field:x",
	"missing.field:>1", "NOT missing.field:>1", "user.name:x AND a\\\"b:x", "event.id:abc AND a\\\"b:x",
	// U+19B0 is a letter for Go and not for FTS5: a phrase without tokens.
	"\u19b0", "\u19b0 OR password", "password \u19b0", "NOT \u19b0", "message:\u19b0", "\u19b0*", "\"\u19b0 password\"",
	// Bytes that are not UTF-8.
	"\xff", "pass\x80word", "caf\xc3", "user.name:\xff*", "*\xc3*", "message:*\x80*",
}

// differentialCase returns the events and queries of the differential
// tests: a few hundred varied events, the hand-written queries, and n
// random ones. The same seed gives the same events (but for their IDs) and
// queries every time.
func differentialCase(n int) ([]event.Event, []string) {
	r := rand.New(rand.NewPCG(1, 2))
	evs := genEvents(r, 400)
	// One event per message and per weird value, so that each is seen.
	for i, m := range messages {
		e := event.Event{Time: t0.Add(time.Duration(i) * time.Second), Received: t0}
		e.Fields.Set("message", value(m))
		e.Fields.Set("host.name", event.String("text"))
		e.ID = event.NewID(t0.Add(time.Duration(i) * time.Hour))
		evs = append(evs, e)
	}
	queries := slices.Clone(handQueries)
	for _, v := range queryValues {
		queries = append(queries, escape(v, true), quote(v), "message:"+escape(v, true), "user.name:"+escape(v, true))
	}
	for range n {
		queries = append(queries, genQuery(r, 3))
	}
	return evs, queries
}

// TestDifferential compares the matcher with the store on hand-written
// queries and random ones over a few hundred varied events.
func TestDifferential(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	evs, queries := differentialCase(n)
	d := openDiffStore(t, evs)
	compared, some := 0, 0
	for _, q := range queries {
		ok, found := d.check(t, q)
		if ok {
			compared++
		}
		if found > 0 && found < len(evs) {
			some++
		}
	}
	t.Logf("%d queries × %d events: %d run, %d of which find some events but not all; %d rejected",
		len(queries), len(evs), compared, some, len(queries)-compared)
}
