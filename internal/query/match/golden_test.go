package match_test

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/danang-soc/vigil/internal/query"
	"github.com/danang-soc/vigil/internal/query/match"
)

// The store answered queries in SQL (schema 7, one row per event) before
// it kept events in blocks and tested them with this matcher. What the SQL
// answered for the differential case is kept in goldenFile, so that the
// matcher stays true to it: -golden writes it again from the store, which
// only makes sense with a store that still answers in SQL.
var updateGolden = flag.Bool("golden", false, "write "+goldenFile+" from the store's answers")

const goldenFile = "testdata/sql_answers.json.gz"

// goldenQueries is how many random queries of the differential case the
// golden file holds, besides the hand-written ones.
const goldenQueries = 1500

// answer is what the SQL store said to one query: the events it found (a
// bitmap over the events of the case, in hex), or where it rejected it.
type answer struct {
	Query  []byte `json:"q"` // bytes: a query need not be UTF-8
	Found  string `json:"found,omitempty"`
	Reject *int   `json:"reject,omitempty"`
}

func TestSQLGolden(t *testing.T) {
	evs, queries := differentialCase(goldenQueries)
	if *updateGolden {
		d := openDiffStore(t, evs)
		var out []answer
		for _, q := range queries {
			a := answer{Query: []byte(q)}
			found, err := d.search(q)
			var qe *query.Error
			switch {
			case errors.As(err, &qe):
				a.Reject = &qe.Offset
			case err != nil:
				t.Fatalf("query %q: %v", q, err)
			default:
				bits := new(big.Int)
				for _, e := range found {
					for i := range evs {
						if evs[i].ID == e.ID {
							bits.SetBit(bits, i, 1)
						}
					}
				}
				a.Found = hex.EncodeToString(bits.Bytes())
			}
			out = append(out, a)
		}
		if err := os.MkdirAll(filepath.Dir(goldenFile), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(goldenFile)
		if err != nil {
			t.Fatal(err)
		}
		z := gzip.NewWriter(f)
		if err := json.NewEncoder(z).Encode(out); err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(z.Close(), f.Close()); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d answers to %s", len(out), goldenFile)
		return
	}
	f, err := os.Open(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var answers []answer
	if err := json.NewDecoder(z).Decode(&answers); err != nil {
		t.Fatalf("%s: %v", goldenFile, err)
	}
	if len(answers) != len(queries) {
		t.Fatalf("%s holds %d answers for %d queries: the case changed, write it again", goldenFile, len(answers), len(queries))
	}
	checked := 0
	for i, a := range answers {
		if string(a.Query) != queries[i] {
			t.Fatalf("answer %d is to %q, the case asks %q: the case changed", i, a.Query, queries[i])
		}
		q := queries[i]
		node, err := query.Parse(q)
		var m *match.Matcher
		if err == nil {
			m, err = match.Compile(node, q, now)
		}
		if a.Reject != nil {
			var qe *query.Error
			if !errors.As(err, &qe) || qe.Offset != *a.Reject {
				t.Errorf("query %q: %v; the store rejected it at %d", q, err, *a.Reject)
			}
			continue
		}
		if err != nil {
			t.Errorf("query %q: %v; the store ran it", q, err)
			continue
		}
		want, ok := new(big.Int).SetString(a.Found, 16)
		if !ok && a.Found != "" {
			t.Fatalf("%s: answer %d: bad bitmap", goldenFile, i)
		}
		if want == nil {
			want = new(big.Int)
		}
		for j := range evs {
			if got := m.Match(&evs[j]); got != (want.Bit(j) == 1) {
				t.Errorf("query %q, event %d %s: matcher %v, SQL %v", q, j, evs[j].AppendJSON(nil), got, !got)
			}
		}
		checked++
	}
	t.Logf("%d queries × %d events checked against the SQL store's answers", checked, len(evs))
}
