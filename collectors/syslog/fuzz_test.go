package syslog

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// seeds are real messages in both formats, as senders write them.
var seeds = []string{
	"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
	"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
	`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
	`<14>1 - - - - - [meta a="x\"y\]z\\" a="2"] hi`,
	"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
	"<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
	"<86>Nov 29 15:36:09 db1 sshd[1234]: Failed password for invalid user mallory from 10.0.0.5 port 51234 ssh2",
	"<30>Nov 29 15:36:09 systemd[1]: Started Session 4 of user alice.",
	"Nov  9 03:04:05 vm CRON[2201]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
	"2026-11-29T15:36:08.045123+00:00 vm postgres[17337]: [1-1] 2026-11-29 15:36:08.045 UTC [17337] LOG:  starting PostgreSQL 15.18",
	"<134>Nov 29 15:36:09 vm postgres[17434]: [3-1] 2026-11-29 15:36:09.371 UTC [17434] postgres@postgres/psql 127.0.0.1 LOG:  AUDIT: SESSION,1,1,ROLE,CREATE ROLE,,,CREATE ROLE auditor NOLOGIN;,<none>",
	"<14>Nov 29 15:34:37 vm mysql-server_auditing: vm,root,localhost,3,0,CONNECT,,,0",
	"<189>Nov 29 2026 15:36:09 router1 %SYS-5-CONFIG_I: Configured from console by admin",
	"<22>Nov 29 15:36:09.250 mail postfix/smtpd[822]: connect from unknown[10.0.0.5]",
	"<189>123: *Nov 29 15:36:09.123: %SYS-5-CONFIG_I: Configured from console by vty0 (10.0.0.5)",
	"<166>%ASA-6-302013: Built outbound TCP connection 1 for outside:10.0.0.5/443",
}

// check holds what must be true of any parse, well-formed or not.
func check(t *testing.T, in []byte) {
	p := testParser(testNow)
	ev, err := p.Parse(in)
	raw := string(trimEnd(in))
	if ev.Raw != raw {
		t.Fatalf("Raw = %q, want %q", ev.Raw, raw)
	}
	msg, hasMsg := ev.Get("message")
	if err != nil {
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("error %v does not match ErrFormat", err)
		}
		if !hasMsg || msg.Str != raw {
			t.Fatalf("malformed %q: message = %q, want the whole input", raw, msg.Str)
		}
	} else if hasMsg && !strings.HasSuffix(raw, msg.Str) {
		t.Fatalf("message %q is not the end of %q", msg.Str, raw)
	}
	for _, f := range ev.Fields {
		if f.Key == "" {
			t.Fatalf("empty field key in %q", raw)
		}
	}
	if v, ok := ev.Get(FieldSeverity); ok {
		if n, _ := v.Float(); n < 0 || n > 7 {
			t.Fatalf("severity %v out of range", v.Str)
		}
	}
	if v, ok := ev.Get(FieldFacility); ok {
		if n, _ := v.Float(); n < 0 || n > 23 {
			t.Fatalf("facility %v out of range", v.Str)
		}
	}
	again, err2 := p.Parse([]byte(ev.Raw))
	if (err == nil) != (err2 == nil) {
		t.Fatalf("re-parsing Raw changed the error: %v then %v", err, err2)
	}
	if diff := cmp.Diff(ev, again); diff != "" {
		t.Fatalf("re-parsing Raw changed the event (-first +second):\n%s", diff)
	}
}

func FuzzParse5424(f *testing.F) {
	const head = "<165>1 "
	for _, s := range seeds {
		if strings.Contains(s, ">1 ") {
			f.Add([]byte(s[strings.Index(s, ">1 ")+3:]))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) { check(t, append([]byte(head), body...)) })
}

func FuzzParse3164(f *testing.F) {
	for _, s := range seeds {
		if !strings.Contains(s, ">1 ") {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(check)
}

// FuzzRFC3339 checks the allocation-free timestamp parser against the
// standard library on everything the standard library accepts.
func FuzzRFC3339(f *testing.F) {
	for _, s := range []string{"2003-10-11T22:14:15.003Z", "2003-08-24T05:14:15.000003-07:00", "2026-11-29T15:36:08+07:00", "2024-02-29T23:59:59.999999999+14:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := time.Parse(time.RFC3339Nano, s)
		got, ok := rfc3339(s, time.UTC)
		if err != nil {
			return
		}
		// Canonical timestamps must be accepted; whatever both accept must agree.
		// (RFC 3339 offsets stop at 23:59; time.Parse takes up to 24:00.)
		_, off := want.Zone()
		canonical := want.Format(time.RFC3339Nano) == s && off < 24*3600 && off > -24*3600
		if (canonical && !ok) || (ok && !got.Equal(want)) {
			t.Fatalf("rfc3339(%q) = %v, %v; time.Parse = %v", s, got, ok, want)
		}
	})
}

// FuzzFramer feeds arbitrary TCP streams to the framer: it must never
// panic, never return more than the limit, and only bytes of the stream.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("<13>Nov 29 15:36:09 h app: one\n<13>Nov 29 15:36:09 h app: two\n"))
	f.Add([]byte("12 <13>1 - - - 5 hello"))
	f.Add([]byte("999999999 x"))
	f.Add([]byte("\n\n\r\n0 "))
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 480
		fr := newFramer(bytes.NewReader(in), max)
		total := 0
		for range len(in) + 2 {
			msg, _, err := fr.next()
			if len(msg) > max {
				t.Fatalf("message of %d bytes, limit %d", len(msg), max)
			}
			if len(msg) > 0 && !bytes.Contains(in, msg) {
				t.Fatalf("message %q is not in the stream", msg)
			}
			total += len(msg)
			if err != nil {
				return
			}
		}
		t.Fatalf("framer did not end on a %d-byte stream (%d bytes returned)", len(in), total)
	})
}
