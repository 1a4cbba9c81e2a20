package syslog

import "testing"

func benchParse(b *testing.B, line string) {
	p := testParser(testNow)
	in := []byte(line)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkParse5424(b *testing.B) {
	benchParse(b, `<165>1 2026-11-29T15:36:09.371522+07:00 db1.example.org postgres 17434 AUDIT [meta@32473 session="1" class="ROLE"] AUDIT: SESSION,1,1,ROLE,CREATE ROLE,,,CREATE ROLE auditor NOLOGIN;,<none>`)
}

func BenchmarkParse3164(b *testing.B) {
	benchParse(b, "<86>Nov 29 15:36:09 db1 sshd[1234]: Failed password for invalid user mallory from 10.0.0.5 port 51234 ssh2")
}
