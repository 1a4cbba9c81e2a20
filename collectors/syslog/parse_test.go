package syslog

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/danang-soc/vigil/event"
	"github.com/danang-soc/vigil/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// testNow is the parser testNow of the tests: 29 November 2026, 16:00 UTC.
var testNow = time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC)

func testParser(now time.Time) *Parser {
	return NewParser(Options{Location: time.UTC, Now: func() time.Time { return now }})
}

// fields returns the fields of ev as a map, so that tests do not depend on
// their order.
func fields(ev event.Event) map[string]event.Value {
	m := make(map[string]event.Value, len(ev.Fields))
	for _, f := range ev.Fields {
		m[f.Key] = f.Value
	}
	return m
}

func pri(p int) map[string]event.Value {
	return map[string]event.Value{
		FieldPriority: event.Int(int64(p)),
		FieldFacility: event.Int(int64(p / 8)),
		FieldSeverity: event.Int(int64(p % 8)),
	}
}

func with(base map[string]event.Value, kv ...any) map[string]event.Value {
	m := map[string]event.Value{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			m[kv[i].(string)] = event.String(v)
		case event.Value:
			m[kv[i].(string)] = v
		}
	}
	return m
}

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		now    time.Time // testNow; the test testNow when zero
		time   time.Time
		fields map[string]event.Value
	}{
		{
			name: "rfc5424 example 1 with BOM",
			in:   "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
			time: time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC),
			fields: with(pri(34), FieldVersion, event.Number("1"), "host.name", "mymachine.example.com",
				FieldAppName, "su", "process.name", "su", FieldMsgID, "ID47",
				"message", "'su root' failed for lonvick on /dev/pts/8"),
		},
		{
			name: "rfc5424 example 2 with offset and NILVALUE msgid and sd",
			in:   "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
			time: time.Date(2003, 8, 24, 12, 14, 15, 3000, time.UTC),
			fields: with(pri(165), FieldVersion, event.Number("1"), "host.name", "192.0.2.1",
				FieldAppName, "myproc", "process.name", "myproc", FieldProcID, "8710", "process.pid", event.Number("8710"),
				"message", "%% It's time to make the do-nuts."),
		},
		{
			name: "rfc5424 example 3 structured data and message",
			in:   `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] ` + "\xEF\xBB\xBFAn application event log entry...",
			time: time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC),
			fields: with(pri(165), FieldVersion, event.Number("1"), "host.name", "mymachine.example.com",
				FieldAppName, "evntslog", "process.name", "evntslog", FieldMsgID, "ID47",
				"log.syslog.structured_data.exampleSDID@32473.iut", "3",
				"log.syslog.structured_data.exampleSDID@32473.eventSource", "Application",
				"log.syslog.structured_data.exampleSDID@32473.eventID", "1011",
				"message", "An application event log entry..."),
		},
		{
			name: "rfc5424 example 4 two elements no message",
			in:   `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
			time: time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC),
			fields: with(pri(165), FieldVersion, event.Number("1"), "host.name", "mymachine.example.com",
				FieldAppName, "evntslog", "process.name", "evntslog", FieldMsgID, "ID47",
				"log.syslog.structured_data.exampleSDID@32473.iut", "3",
				"log.syslog.structured_data.exampleSDID@32473.eventSource", "Application",
				"log.syslog.structured_data.exampleSDID@32473.eventID", "1011",
				"log.syslog.structured_data.examplePriority@32473.class", "high"),
		},
		{
			name: "rfc5424 escapes repeated params and all NILVALUE",
			in:   `<14>1 - - - - - [meta a="x\"y\]z\\" a="2" path="C:\temp"] hi`,
			fields: with(pri(14), FieldVersion, event.Number("1"),
				"log.syslog.structured_data.meta.a", event.Strings(`x"y]z\`, "2"),
				"log.syslog.structured_data.meta.path", `C:\temp`,
				"message", "hi"),
		},
		{
			name: "rfc5424 from rsyslog with trailing newline",
			in:   "<86>1 2026-11-29T15:36:09.371522+07:00 db1 sshd 2211 - - Failed password for invalid user mallory from 10.0.0.5 port 51234 ssh2\n",
			time: time.Date(2026, 11, 29, 8, 36, 9, 371522000, time.UTC),
			fields: with(pri(86), FieldVersion, event.Number("1"), "host.name", "db1",
				FieldAppName, "sshd", "process.name", "sshd", FieldProcID, "2211", "process.pid", event.Number("2211"),
				"message", "Failed password for invalid user mallory from 10.0.0.5 port 51234 ssh2"),
		},
		{
			name: "rfc5424 without structured data",
			in:   "<13>1 2026-11-29T15:36:09Z host app 12 - hello there",
			time: time.Date(2026, 11, 29, 15, 36, 9, 0, time.UTC),
			fields: with(pri(13), FieldVersion, event.Number("1"), "host.name", "host",
				FieldAppName, "app", "process.name", "app", FieldProcID, "12", "process.pid", event.Number("12"),
				"message", "hello there"),
		},
		{
			name: "rfc3164 example",
			in:   "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
			time: time.Date(2026, 10, 11, 22, 14, 15, 0, time.UTC),
			fields: with(pri(34), "host.name", "mymachine", FieldAppName, "su", "process.name", "su",
				"message", "'su root' failed for lonvick on /dev/pts/8"),
		},
		{
			name:   "rfc3164 example without tag, padded day",
			in:     "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
			time:   time.Date(2026, 2, 5, 17, 32, 18, 0, time.UTC),
			fields: with(pri(13), "host.name", "10.0.0.99", "message", "Use the BFG!"),
		},
		{
			name: "sshd tag with pid",
			in:   "<86>Nov 29 15:36:09 db1 sshd[1234]: Failed password for invalid user mallory from 10.0.0.5 port 51234 ssh2",
			time: time.Date(2026, 11, 29, 15, 36, 9, 0, time.UTC),
			fields: with(pri(86), "host.name", "db1", FieldAppName, "sshd", "process.name", "sshd",
				FieldProcID, "1234", "process.pid", event.Number("1234"),
				"message", "Failed password for invalid user mallory from 10.0.0.5 port 51234 ssh2"),
		},
		{
			name: "missing hostname (local /dev/log submission)",
			in:   "<30>Nov 29 15:36:09 systemd[1]: Started Session 4 of user alice.",
			time: time.Date(2026, 11, 29, 15, 36, 9, 0, time.UTC),
			fields: with(pri(30), FieldAppName, "systemd", "process.name", "systemd",
				FieldProcID, "1", "process.pid", event.Number("1"), "message", "Started Session 4 of user alice."),
		},
		{
			name: "missing hostname, tag without pid",
			in:   "<6>Nov 29 15:36:09 kernel: [ 12.345678] audit: type=1400",
			time: time.Date(2026, 11, 29, 15, 36, 9, 0, time.UTC),
			fields: with(pri(6), FieldAppName, "kernel", "process.name", "kernel",
				"message", "[ 12.345678] audit: type=1400"),
		},
		{
			name: "syslog file line without priority",
			in:   "Nov  9 03:04:05 vm CRON[2201]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
			time: time.Date(2026, 11, 9, 3, 4, 5, 0, time.UTC),
			fields: map[string]event.Value{"host.name": event.String("vm"), FieldAppName: event.String("CRON"),
				"process.name": event.String("CRON"), FieldProcID: event.String("2201"), "process.pid": event.Number("2201"),
				"message": event.String("(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)")},
		},
		{
			name: "rsyslog high precision file format",
			in:   "2026-11-29T15:36:08.045123+00:00 vm postgres[17337]: [1-1] 2026-11-29 15:36:08.045 UTC [17337] LOG:  starting PostgreSQL 15.18",
			time: time.Date(2026, 11, 29, 15, 36, 8, 45123000, time.UTC),
			fields: map[string]event.Value{"host.name": event.String("vm"), FieldAppName: event.String("postgres"),
				"process.name": event.String("postgres"), FieldProcID: event.String("17337"), "process.pid": event.Number("17337"),
				"message": event.String("[1-1] 2026-11-29 15:36:08.045 UTC [17337] LOG:  starting PostgreSQL 15.18")},
		},
		{
			name: "slash in tag, fraction in time",
			in:   "<22>Nov 29 15:36:09.250 mail postfix/smtpd[822]: connect from unknown[10.0.0.5]",
			time: time.Date(2026, 11, 29, 15, 36, 9, 250e6, time.UTC),
			fields: with(pri(22), "host.name", "mail", FieldAppName, "postfix/smtpd", "process.name", "postfix/smtpd",
				FieldProcID, "822", "process.pid", event.Number("822"), "message", "connect from unknown[10.0.0.5]"),
		},
		{
			name: "network device with year",
			in:   "<189>Nov 29 2026 15:36:09 router1 %SYS-5-CONFIG_I: Configured from console by admin",
			time: time.Date(2026, 11, 29, 15, 36, 9, 0, time.UTC),
			fields: with(pri(189), "host.name", "router1", FieldAppName, "%SYS-5-CONFIG_I", "process.name", "%SYS-5-CONFIG_I",
				"message", "Configured from console by admin"),
		},
		{
			name: "Cisco IOS sequence number, unsynchronised clock mark, colon after the time",
			in:   "<189>123: *Nov 29 15:36:09.123: %SYS-5-CONFIG_I: Configured from console by vty0 (10.0.0.5)",
			time: time.Date(2026, 11, 29, 15, 36, 9, 123e6, time.UTC),
			fields: with(pri(189), FieldSequence, event.Number("123"), FieldAppName, "%SYS-5-CONFIG_I", "process.name", "%SYS-5-CONFIG_I",
				"message", "Configured from console by vty0 (10.0.0.5)"),
		},
		{
			name:   "Cisco ASA without timestamp",
			in:     "<166>%ASA-6-302013: Built outbound TCP connection 1 for outside:10.0.0.5/443",
			fields: with(pri(166), FieldAppName, "%ASA-6-302013", "process.name", "%ASA-6-302013", "message", "Built outbound TCP connection 1 for outside:10.0.0.5/443"),
		},
		{
			name:   "number then colon that is not a sequence number",
			in:     "<13>42: the answer",
			fields: with(pri(13), FieldAppName, "42", "process.name", "42", "message", "the answer"),
		},
		{
			name:   "priority only, no timestamp",
			in:     "<13>hello",
			fields: with(pri(13), "message", "hello"),
		},
		{
			name:   "repeated message line has no tag",
			in:     "<13>Nov 29 15:36:09 vm last message repeated 3 times",
			time:   time.Date(2026, 11, 29, 15, 36, 9, 0, time.UTC),
			fields: with(pri(13), "host.name", "vm", "message", "last message repeated 3 times"),
		},
		{
			name:   "December line read on New Year's day belongs to the year before",
			in:     "<13>Dec 31 23:59:50 vm app: late",
			now:    time.Date(2027, 1, 1, 0, 0, 10, 0, time.UTC),
			time:   time.Date(2026, 12, 31, 23, 59, 50, 0, time.UTC),
			fields: with(pri(13), "host.name", "vm", FieldAppName, "app", "process.name", "app", "message", "late"),
		},
		{
			name:   "sender testNow slightly ahead across New Year",
			in:     "<13>Jan  1 00:00:05 vm app: early",
			now:    time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC),
			time:   time.Date(2027, 1, 1, 0, 0, 5, 0, time.UTC),
			fields: with(pri(13), "host.name", "vm", FieldAppName, "app", "process.name", "app", "message", "early"),
		},
		{
			name:   "29 February resolves to a leap year",
			in:     "<13>Feb 29 12:00:00 vm app: leap",
			now:    time.Date(2029, 1, 15, 0, 0, 0, 0, time.UTC),
			time:   time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC),
			fields: with(pri(13), "host.name", "vm", FieldAppName, "app", "process.name", "app", "message", "leap"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = testNow
			}
			ev, err := testParser(now).Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tt.in, err)
			}
			if !ev.Time.Equal(tt.time) {
				t.Errorf("Time = %v, want %v", ev.Time, tt.time)
			}
			if diff := cmp.Diff(tt.fields, fields(ev)); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if ev.Raw != strings.TrimRight(tt.in, "\n") {
				t.Errorf("Raw = %q, want the input", ev.Raw)
			}
			if ev.Source != DefaultSource {
				t.Errorf("Source = %+v, want %+v", ev.Source, DefaultSource)
			}
		})
	}
}

func TestParseMalformedKeepsTheMessage(t *testing.T) {
	tests := []struct {
		in      string
		withPRI bool
	}{
		{"hello world", false},
		{"<999>Nov 29 15:36:09 vm app: x", false},
		{"<12", false},
		{"<abc>text", false},
		{"<34>1 yesterday host app - - - msg", true},
		{"<34>1 2003-10-11T22:14:15.003Z host app - ID [bad", true},
		{`<34>1 2003-10-11T22:14:15.003Z host app - ID [id a="unterminated]`, true},
		{`<34>1 2003-10-11T22:14:15.003Z host app - ID [id a=novalue]`, true},
		{"<34>1 2003-10-11T22:14:15.003Z host", true},
		{"Nov 32 15:36:09 vm app: bad day", false},
		{"Nov 29 25:36:09 vm app: bad hour", false},
	}
	for _, tt := range tests {
		ev, err := testParser(testNow).Parse([]byte(tt.in))
		if !errors.Is(err, ErrFormat) {
			t.Errorf("Parse(%q) error = %v, want ErrFormat", tt.in, err)
			continue
		}
		if got := ev.Fields.Str("message"); got != tt.in {
			t.Errorf("Parse(%q) message = %q, want the whole input", tt.in, got)
		}
		if ev.Fields.Str(FieldError) == "" {
			t.Errorf("Parse(%q): no %s field", tt.in, FieldError)
		}
		if _, ok := ev.Get(FieldPriority); ok != tt.withPRI {
			t.Errorf("Parse(%q): priority field present = %v, want %v", tt.in, ok, tt.withPRI)
		}
		if !ev.Time.IsZero() || ev.Raw != tt.in {
			t.Errorf("Parse(%q) = time %v raw %q, want no time and the input", tt.in, ev.Time, ev.Raw)
		}
	}
}

func TestParseConfiguredSourceAndZone(t *testing.T) {
	ict := time.FixedZone("ICT", 7*3600)
	src := event.LogSource{Product: "cisco", Service: "ios"}
	p := NewParser(Options{Source: src, Location: ict, Now: func() time.Time { return testNow }})
	ev, err := p.Parse([]byte("<13>Nov 29 22:00:00 r1 app: x"))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 29, 15, 0, 0, 0, time.UTC); !ev.Time.Equal(want) {
		t.Errorf("Time = %v, want %v (local time of the configured zone)", ev.Time, want)
	}
	if ev.Source != src {
		t.Errorf("Source = %+v, want %+v", ev.Source, src)
	}
}

// TestParseDatabaseLogsViaSyslog wraps real database log lines from the
// corpus the way PostgreSQL (log_destination=syslog) and MariaDB
// (server_audit_output_type=syslog) send them, and checks that the
// database's own text comes through unchanged as the message.
func TestParseDatabaseLogsViaSyslog(t *testing.T) {
	cases := []struct {
		file, tag string
		pri       int
		payload   func(line string, n int) string
	}{
		{"pgaudit.log", "postgres", 134, func(l string, n int) string { return "[" + itoa(n) + "-1] " + l }},
		{"postgres-stderr.log", "postgres", 134, func(l string, n int) string { return "[" + itoa(n) + "-1] " + l }},
		{"mariadb-server_audit.log", "mysql-server_auditing", 14, func(l string, n int) string {
			// the file output's "20261129 15:34:37," prefix is the syslog header's job
			if i := strings.IndexByte(l, ','); i > 0 {
				return l[i+1:]
			}
			return l
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			f, err := os.Open(testenv.Corpus(t, "dblogs", c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			p := testParser(testNow)
			n := 0
			for sc.Scan() {
				n++
				payload := c.payload(sc.Text(), n)
				line := "<" + itoa(c.pri) + ">Nov 29 15:36:09 vm " + c.tag + "[17434]: " + payload
				ev, err := p.Parse([]byte(line))
				if err != nil {
					t.Fatalf("line %d: Parse(%q) error = %v", n, line, err)
				}
				got := map[string]string{"message": ev.Fields.Str("message"), "host": ev.Host(),
					"process": ev.Fields.Str("process.name"), "pid": ev.Fields.Str("process.pid")}
				want := map[string]string{"message": payload, "host": "vm", "process": c.tag, "pid": "17434"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("line %d %q (-want +got):\n%s", n, line, diff)
				}
			}
			if n == 0 {
				t.Fatal("corpus file is empty")
			}
		})
	}
}

func TestDecoder(t *testing.T) {
	d := NewDecoder(Options{Location: time.UTC, Now: func() time.Time { return testNow }})
	var got []string
	emit := func(ev event.Event) { got = append(got, ev.Fields.Str("message")) }
	lines := []string{
		"Nov 29 15:36:09 vm sshd[1]: one\n",
		"\n",
		"a continuation line that is not syslog\r\n",
		"<13>1 2026-11-29T15:36:09Z h a - - - three",
	}
	var errs int
	for _, l := range lines {
		if err := d.Line([]byte(l), emit); err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Errorf("Line(%q) error = %v, want ErrFormat or nil", l, err)
			}
			errs++
		}
	}
	d.Flush(emit)
	if d.Pending() {
		t.Error("Pending() = true, want false")
	}
	want := []string{"one", "a continuation line that is not syslog", "three"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if errs != 1 {
		t.Errorf("%d errors, want 1 (the non-syslog line)", errs)
	}
}
