package match_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/danang-soc/vigil/event"
)

// The vocabulary of the differential tests: events are drawn from it, and
// queries ask for its fields and values, and for near misses.

var t0 = time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)

var (
	hosts      = []any{"db01", "DB01", "db02", "web-1", "Máy-chủ-1", "10", "2", "", 5, event.Strings("db02", "db01"), event.List(), event.Null(), true}
	products   = []string{"postgresql", "PostgreSQL", "mysql", "linux", "", "Linux", "ÉLAN"}
	categories = []string{"database", "process_creation", "authentication", "", "Database"}
	services   = []string{"auth", "sshd", "", "SSHD", "postgres"}

	users   = []any{"postgres", "Postgres", "admin", "ADMIN", "nguyễn", "Nguyễn Văn Đức", "", "42", 42, 4.5, true, false, nil, event.Strings("alice", "bob"), event.List(event.String("x"), event.Int(7), event.Null()), event.List(), "\x01json", "a_b%c", "naïve"}
	ips     = []any{"10.0.0.1", "192.168.1.10", "::1", "203.0.113.7", event.Strings("10.0.0.1", "10.0.0.2"), "10.0.0.10"}
	actions = []any{"login", "LOGIN", "logout", "query", "đăng nhập", "dang nhap", "", 1}
	outcome = []any{"success", "failure", "Success", true, false, nil, "true", "null", "False"}
	dbNames = []any{"sales", "Sales", "hr", 123, "123", "HR", event.Strings("hr", "sales"), "Ω-db"}
	dbUsers = []any{"app", "APP", "root", "nobody", "ứng_dụng"}
	dbOps   = []any{"SELECT", "select", "DROP", "INSERT", "COPY", "Select"}
	dbRows  = []any{0, 5, 42, 1000, -3, 250000, num("1.5"), num("2.0"), num("1e3"), num("1e999"), num("-1e999"), num("12345678901234567890"),
		num("9007199254740993"), num("0.1"), num("-0"), num("-0.0"), num("1E2"), num("5e-324"), num("123456789.123456789"),
		"42", "abc", "", nil, true, event.List(event.Int(1), event.Int(2), event.String("3")), event.List(event.Number("7.5")), num("0.30000000000000004"), num("100000"), num("1e-5")}

	pids     = []any{812, 0, -1, num("3.25"), "812", "0812", num("1e2"), num("99999999999999999999")}
	statuses = []any{200, 404, "404", "OK", "ok", num("200.0"), nil, false}
	tagsV    = []any{event.Strings("prod", "db"), event.Strings("Prod"), "prod", event.List(), event.List(event.Bool(true), event.Null()), event.Strings("a b", "c*d")}
	envs     = []any{"prod", "Prod", "PROD", "staging", "prød", "dev", "", "Dev-1"}
	weird    = []any{"x", "<tag>", "a&b", "quote\"d", "back\\slash", "tab\there", "nul\x00byte", "\u2028line"}

	messages = []any{
		"password authentication failed for user \"postgres\"",
		"Password Authentication FAILED for user admin",
		"connection authorized: user=admin database=hr",
		"Đăng nhập thất bại cho người dùng quản trị",
		"dang nhap that bai cho nguoi dung quan tri",
		"ĐĂNG NHẬP THÀNH CÔNG",
		"Người dùng đã đăng xuất lúc 10:30",
		"Tiếng Việt có dấu: ắ ằ ẳ ẵ ặ ấ ầ ẩ ẫ ậ ế ề ể ễ ệ ố ồ ổ ỗ ộ ớ ờ ở ỡ ợ ứ ừ ử ữ ự",
		"Tie\u0302\u0301ng Vie\u0323\u0302t to\u031bi ha\u0300nh (decomposed)",
		"e\u0301 a\u0300 o\u0308 u\u0331x",
		"statement: ALTER ROLE admin SUPERUSER",
		"COPY citizens TO '/tmp/x.csv'",
		"server_started at 2026-03-10T08:00:00Z pid=812",
		"user_name=admin; db.name=hr; rows=42",
		"café CAFÉ Café naïve résumé",
		"Straße STRASSE straße",
		"ΣΊΣΥΦΟΣ σίσυφος",
		"Привет МИР мир",
		"日本語のテキスト 中文 文本",
		"emoji 🔥 fire🔥fire ✅ ok",
		"½ ² ³ Ⅻ ① x²y",
		"private \ue000\ue001 use",
		"under_score and-dash and.dot",
		"100% done_ok",
		"-",
		"*.*",
		"(x) [y] {z}",
		"İstanbul ıi KELVIN \u212a",
		"ǅemal ǈ ǉ",
		"\U0001e900 adlam \U0001e922",
		"mixed123numbers 456 7.8.9",
		"",
		"   ",
		"trailing space ",
		"đ Đ đđ",
		"ﬁle ligature",
		"x\u200by zero width",
		"a\u00adb soft hyphen",
		"fullwidth ＡＢＣ １２３",
		"Ⓐ circled",
		42, num("3.14"), true, nil,
		event.Strings("first line", "second line"),
		event.Strings("đăng", "nhập"),
		event.List(event.String("x"), event.Int(5)),
		event.List(),
	}
	statements = []any{
		"SELECT * FROM orders WHERE id = 1",
		"select name from users where name like 'adm%'",
		"DROP TABLE citizens",
		"INSERT INTO logs VALUES ('đăng nhập')",
		"UPDATE accounts SET balance = balance - 100",
		"COPY citizens TO '/tmp/x.csv'",
		"",
		event.Strings("BEGIN", "COMMIT"),
	}
	raws = []string{"", "", "raw line 1", "<134>Mar 10 sshd[812]: Accepted", "RAW LINE 1"}
)

func num(s string) event.Value { return event.Number(s) }

func value(x any) event.Value {
	switch v := x.(type) {
	case nil:
		return event.Null()
	case string:
		return event.String(v)
	case int:
		return event.Int(int64(v))
	case float64:
		return event.Float(v)
	case bool:
		return event.Bool(v)
	case event.Value:
		return v
	}
	panic(fmt.Sprintf("value of %T", x))
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// genEvents makes n varied events: every field present in some and absent
// from others, several kinds of value in each.
func genEvents(r *rand.Rand, n int) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		e := &evs[i]
		e.Time = t0.Add(time.Duration(r.IntN(72*60)) * time.Minute).Add(time.Duration(r.IntN(1000)) * time.Millisecond)
		switch r.IntN(20) {
		case 0:
			e.Time = time.Time{}
		case 1:
			e.Time = t0 // on the minute
		case 2:
			e.Time = time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC) // midnight
		}
		e.Received = e.Time.Add(time.Second)
		if r.IntN(10) == 0 {
			e.Received = time.Time{}
		}
		e.Source = event.LogSource{Product: pick(r, products), Category: pick(r, categories), Service: pick(r, services)}
		e.Raw = pick(r, raws)
		set := func(p float64, key string, vals []any) {
			if r.Float64() < p {
				e.Fields.Set(key, value(pick(r, vals)))
			}
		}
		set(0.8, "host.name", hosts)
		set(0.6, "user.name", users)
		set(0.4, "source.ip", ips)
		set(0.4, "event.action", actions)
		set(0.4, "event.outcome", outcome)
		set(0.4, "db.name", dbNames)
		set(0.3, "db.user", dbUsers)
		set(0.3, "db.operation", dbOps)
		set(0.5, "db.response.rows", dbRows)
		set(0.3, "process.pid", pids)
		set(0.3, "http.status", statuses)
		set(0.3, "tags", tagsV)
		set(0.3, "labels.env", envs)
		set(0.15, "weird", weird)
		set(0.05, "a&b", envs)
		if e.Raw == "" {
			// With a raw record too, the document would hold the key twice
			// (see the package's tests of docField).
			set(0.1, "event.original", []any{5, true, event.Strings("o1", "o2")})
		}
		set(0.7, "message", messages)
		set(0.3, "db.statement", statements)
		e.ID = event.NewID(e.Received.Add(time.Duration(i)))
	}
	return evs
}

// Query vocabulary.
var (
	queryFields = []string{
		"host.name", "logsource.product", "logsource.category", "logsource.service",
		"user.name", "source.ip", "event.action", "event.outcome", "db.name", "db.user", "db.operation", "db.response.rows",
		"process.pid", "http.status", "tags", "labels.env", "weird", "a&b", "event.original", "message", "db.statement",
		"missing.field", "@timestamp", "event.ingested",
	}
	queryValues = []string{
		"db01", "DB01", "db0?", "db*", "*01", "D*", "web-1", "máy-chủ-1", "MÁY-CHỦ-1", "10", "2", "5", "5.0", "1e1",
		"postgresql", "POSTGRESQL", "postgres*", "linux", "élan", "ÉLAN", "database", "process_creation", "process?creation", "auth*", "sshd",
		"postgres", "admin", "Admin", "nguyễn", "NGUYỄN", "nguyen", "alice", "x", "7", "42", "42.0", "4.5", "true", "TRUE", "false", "null", "NULL",
		"10.0.0.1", "10.0.0.*", "10.0.0.?", "::1", "login", "LOGIN", "đăng nhập", "dang nhap", "success", "failure",
		"sales", "hr", "123", "app", "root", "select", "SELECT", "drop", "copy",
		"0", "-3", "1.5", "2", "1000", "1e3", "1e999", "inf", "-inf", "nan", "NaN", "12345678901234567890", "1.2345678901234567e19",
		"9007199254740993", "9007199254740992", "0.1", "-0", "0x10", " 42 ", "abc", "",
		"812", "0812", "3.25", "200", "404", "ok", "OK", "prod", "Prod", "prød", "PRØD", "a b", "c*d", "c\\*d",
		"<tag>", "a&b", "raw line 1", "raw*", "o1",
		"password", "Password", "authentication failed", "authen*", "đăng", "Đăng", "dang", "nhap", "thất bại", "that bai",
		"ĐĂNG NHẬP", "tieng viet", "tiếng", "toi", "hanh", "cafe", "CAFÉ", "naive", "resume", "strasse", "straße", "σίσυφος", "ΣΊΣΥΦΟΣ", "σισυφος",
		"мир", "МИР", "日本語", "中文", "文本", "🔥", "fire", "fire*", "✅", "½", "²", "x²y", "x2y", "ⅻ", "①", "\ue000", "\ue000\ue001",
		"under_score", "under", "score", "and-dash", "dash", "100%", "100", "done_ok", "done", "-", "*.*", "x)", "istanbul", "i̇stanbul", "ıi",
		"kelvin", "\u212a", "dzemal", "ǆemal", "\U0001e922", "\U0001e900", "adlam", "mixed123numbers", "mixed*", "456", "7.8.9", "8",
		"d", "dd", "đđ", "fi", "ﬁle", "file", "xy", "x\u200by", "ab", "a\u00adb", "abc", "ＡＢＣ", "１２３", "ⓐ", "Ⓐ",
		"first line", "line second", "second", "first line second", "3.14", "3", "alter role", "superuser", "citizens", "orders where",
		"select*", "adm%", "*adm*", "*đăng*", "*Đăng*", "*dang*", "*tie*", "*-*", "?", "??", "*ng*nh*", "*a_b%c*", "a_b%c", "a?b%c",
		"statement:", "user=admin", "db.name", "rows=42", "2026-03-10", "2026-03-10T08:00:00Z", "now-1d", "now", "now-30d", "now+1h",
	}
	rangeBounds = []string{"*", "0", "5", "42", "1000", "-5", "1.5", "1e3", "nan", "inf", "a", "m", "Z", "db01", "db02", "10", "2",
		"prod", "z", "ǅ", "2026-03-10", "2026-03-11", "2026-03-10T09:00:00Z", "now-2d", "now", "2026-03-10 12:00", "\"1 0\"", "ADMIN", "admin"}
)

// genQuery writes a random query over the vocabulary, of depth at most d.
func genQuery(r *rand.Rand, d int) string {
	if d > 0 && r.IntN(3) == 0 {
		ops := []string{" AND ", " OR ", " ", " && ", " || "}
		n := 2 + r.IntN(2)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = genQuery(r, d-1)
		}
		q := strings.Join(parts, pick(r, ops))
		if r.IntN(2) == 0 {
			q = "(" + q + ")"
		}
		if r.IntN(4) == 0 {
			q = "NOT " + q
		}
		return q
	}
	field := pick(r, queryFields)
	v := pick(r, queryValues)
	switch r.IntN(12) {
	case 0:
		return quote(v) // bare phrase
	case 1:
		return escape(v, true) // bare word
	case 2:
		return field + ":" + quote(v)
	case 3:
		return field + ":*"
	case 4:
		lo, hi := pick(r, rangeBounds), pick(r, rangeBounds)
		open, close := pick(r, []string{"[", "{"}), pick(r, []string{"]", "}"})
		return field + ":" + open + lo + " TO " + hi + close
	case 5:
		return field + pick(r, []string{" > ", " >= ", ":<", ":<="}) + pick(r, rangeBounds[1:])
	case 6:
		return "-" + field + ":" + escape(v, true)
	case 7:
		return field + ":(" + escape(v, true) + " OR " + escape(pick(r, queryValues), true) + ")"
	}
	return field + ":" + escape(v, true)
}

// quote quotes a value as a phrase.
func quote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// escape writes a value as an unquoted word; with wild its * and ? stay
// wildcards. An empty value is quoted.
func escape(v string, wild bool) string {
	if v == "" {
		return `""`
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '*', '?':
			if !wild {
				b.WriteByte('\\')
			}
		case ' ', '\t', '(', ')', '"', ':', '<', '>', '[', ']', '{', '}':
			b.WriteByte('\\')
		case '\\':
			if i+1 < len(v) {
				b.WriteByte(c)
				i++
				c = v[i]
			} else {
				b.WriteByte('\\')
			}
		}
		b.WriteByte(c)
	}
	w := b.String()
	if strings.EqualFold(w, "and") || strings.EqualFold(w, "or") || strings.EqualFold(w, "not") || strings.HasPrefix(w, "-") || strings.HasPrefix(w, "+") {
		w = `\` + w
	}
	return w
}
