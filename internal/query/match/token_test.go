package match

import (
	"database/sql"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"

	"github.com/danang-soc/vigil/internal/query"
)

// ftsTexts are documents for the tokenizer's differential test.
var ftsTexts = []string{
	"Đăng nhập thất bại cho người dùng quản trị",
	"dang nhap that bai",
	"ĐĂNG NHẬP THÀNH CÔNG lúc 10:30",
	"Tie\u0302\u0301ng Vie\u0323\u0302t to\u031bi (decomposed)",
	"e\u0301 a\u0300 o\u0308 u\u0331x q\u0335r \u0301lead",
	"café CAFÉ naïve résumé Straße ΣΊΣΥΦΟΣ σίσυφος ς Привет МИР",
	"日本語のテキスト 中文文本 한국어",
	"emoji 🔥 fire🔥fire ✅ok 👍🏽x",
	"½ ² ³ Ⅻ ① x²y ٣ ໓",
	"under_score and-dash and.dot 100% done_ok",
	"İstanbul ıi KELVIN \u212a ǅemal ǈ ﬁle ＡＢＣ １２３ Ⓐ",
	"\U0001e900 adlam \U0001e922 \U00010400 deseret \U00010428 \U000118a0 warang",
	"private \ue000\ue001 use \U000f0000 \U00100000 plane16",
	"x\u200by a\u00adb c\u034fd tab\there nul\x00byte",
	"mixed123numbers 456 7.8.9",
	"ა Ა Ა georgian \u1c90\u10d0",
	"ꭰ Ꭰ cherokee ᏸ",
	"ß ẞ ſ ﬀ ǰ ΐ",
	"first line, second line",
}

// TestTokensFTS5 checks the tokenizer and phrase matching against FTS5
// itself: words and phrases of the texts, changed in case and marks,
// prefixes, and random strings of interesting characters, with the
// expression the store would send.
func TestTokensFTS5(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE VIRTUAL TABLE f USING fts5 (message, statement, content='', tokenize='unicode61 remove_diacritics 2')`); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	texts := append([]string(nil), ftsTexts...)
	alphabet := []rune("aAzZ09_-. đĐăâêôơưẮẶỆỘỰ\u0300\u0301\u0303\u0309\u0323\u0302\u0306\u031b\u0331\u0335\u034fßẞſİıΣσς日本🔥½²Ⅻ①\ue000ǅﬁＡ\u200b\u00ad\U0001e900\U0001e922\U00010400\U000f0000\U00100000")
	// A letter for Go that FTS5 does not know: a phrase of it has no token.
	for c := rune(0x80); c < 0x30000; c++ {
		if unicode.IsLetter(c) && !inSpans(tokenSpans, uint32(c)) {
			alphabet = append(alphabet, c)
			t.Logf("U+%04X is a letter for Go, a separator for FTS5", c)
			break
		}
	}
	randText := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 200 {
		texts = append(texts, randText(1+r.IntN(12)))
	}
	for i, s := range texts {
		stmt := texts[(i+7)%len(texts)]
		if _, err := db.Exec(`INSERT INTO f (rowid, message, statement) VALUES (?, ?, ?)`, i+1, foldText(s), foldText(stmt)); err != nil {
			t.Fatal(err)
		}
	}
	// The queries: every word and pair of words of the texts, as written,
	// upper-cased and without marks, and random strings, some with bytes
	// that are not UTF-8.
	var queries []string
	for _, s := range texts[:len(ftsTexts)] {
		words := strings.Fields(s)
		for i, w := range words {
			queries = append(queries, w, strings.ToUpper(w), strings.ToLower(w))
			if i+1 < len(words) {
				queries = append(queries, w+" "+words[i+1])
			}
		}
	}
	for range 400 {
		q := randText(1 + r.IntN(4))
		if r.IntN(8) == 0 {
			q += string([]byte{0x80 + byte(r.IntN(0x40))})
		}
		if r.IntN(8) == 0 {
			q = string([]byte{0xc0 + byte(r.IntN(0x40))}) + q
		}
		queries = append(queries, q)
	}
	compared := 0
	for _, q := range queries {
		for _, field := range []string{"", "message", fieldStatement} {
			for _, wild := range []bool{false, true} {
				term := &query.Term{Field: field, Value: q}
				if wild {
					term.Value, term.Wildcard = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace(q)+"*", true
				}
				p, cols, ok := ftsPhrase(term)
				if !ok {
					continue
				}
				compared++
				expr := ftsQuery(term)
				var want []int
				rows, err := db.Query(`SELECT rowid FROM f WHERE f MATCH ? ORDER BY rowid`, expr)
				if err != nil {
					t.Fatalf("FTS5 query %q: %v", expr, err)
				}
				for rows.Next() {
					var id int
					if err := rows.Scan(&id); err != nil {
						t.Fatal(err)
					}
					want = append(want, id)
				}
				rows.Close()
				var got []int
				for i, s := range texts {
					var doc [2]tokens
					doc[0].add(s, decodeText)
					doc[1].add(texts[(i+7)%len(texts)], decodeText)
					for _, c := range cols {
						if p.in(&doc[c]) {
							got = append(got, i+1)
							break
						}
					}
				}
				if !equalInts(got, want) {
					t.Errorf("%q (phrase %q, prefix %v): got rows %v, FTS5 %v", expr, p.toks, p.prefix, got, want)
				}
			}
		}
	}
	t.Logf("%d phrases over %d documents", compared, len(texts))
}

// ftsQuery is the FTS5 expression the store sends for a term.
func ftsQuery(n *query.Term) string {
	value, prefix := n.Value, false
	if n.Wildcard {
		value, prefix = query.SplitPattern(n.Value)[0].Literal, true
	}
	value = strings.ReplaceAll(foldText(value), "\x00", " ")
	expr := `"` + strings.ReplaceAll(value, `"`, `""`) + `"`
	if prefix {
		expr += " *"
	}
	switch n.Field {
	case "message":
		expr = "message : " + expr
	case fieldStatement:
		expr = "statement : " + expr
	}
	return expr
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
