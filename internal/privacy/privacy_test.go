package privacy

import (
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"cccd", "CCCD 001203004567 cấp ngày", "CCCD *********567 cấp ngày"},
		{"cmnd", "cmnd: 123456789.", "cmnd: ******789."},
		{"mobile", "gọi 0905123456 nhé", "gọi 0******456 nhé"},
		{"mobile grouped", "SĐT 0905 123 456", "SĐT 0******456"},
		{"mobile dotted", "(0905.123.456)", "(0******456)"},
		{"international", "tel=+84905123456;", "tel=+84******456;"},
		{"international grouped", "+84 905-123-456", "+84******456"},
		{"email", "from nguyen.van.a@example.com.vn to x", "from n***@example.com.vn to x"},
		{"email in angle brackets", "<lan@so-tttt.danang.gov.vn>", "<l***@so-tttt.danang.gov.vn>"},
		{"several", `user "b@c.vn" phone 0312345678 id 079099001234`, `user "b***@c.vn" phone 0******678 id *********234`},
		{"json field", `{"phone":"0987654321"}`, `{"phone":"0******321"}`},
		{"sql", "WHERE cccd='001203004567'", "WHERE cccd='*********567'"},
		// Left alone: not personal data or not standing alone.
		{"plain text", "SELECT * FROM patients", "SELECT * FROM patients"},
		{"ulid", "01JDX0905123456ABCDEFGHJKM", "01JDX0905123456ABCDEFGHJKM"},
		{"nanosecond time", "2026-11-29T16:45:31.123456789+07:00", "2026-11-29T16:45:31.123456789+07:00"},
		{"ip address", "10.0.0.1 and 192.168.100.200", "10.0.0.1 and 192.168.100.200"},
		{"decimal", "ratio 0.905123456", "ratio 0.905123456"},
		{"too long", "0905123456789", "0905123456789"},
		{"eleven digits", "12345678901", "12345678901"},
		{"unix seconds", "ts=1764434731", "ts=1764434731"},
		{"number glued to letters", "id9876543210x", "id9876543210x"},
		{"at sign alone", "user@ localhost @", "user@ localhost @"},
		{"no domain dot", "root@localhost", "root@localhost"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Mask(tc.in); got != tc.want {
				t.Errorf("Mask(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"0905123456", "+84 905 123 456", "a@b.vn", "001203004567", "x 123456789 y", "2026-11-29T16:45:31.123456789+07:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Mask(s)
		if Mask(got) != got {
			t.Errorf("Mask is not idempotent on %q: %q then %q", s, got, Mask(got))
		}
		if got == s {
			return
		}
		// Masking only replaces digits and e-mail local parts.
		if strings.Count(got, "*") == 0 {
			t.Errorf("Mask(%q) = %q changed the text without masking", s, got)
		}
	})
}

func BenchmarkMask(b *testing.B) {
	s := `failed login for user nguyen.van.a@example.com.vn from 10.1.2.3 at 2026-11-29T16:45:31Z phone 0905123456`
	b.ReportAllocs()
	for b.Loop() {
		Mask(s)
	}
}
