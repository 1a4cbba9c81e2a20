package packet

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
)

// ipv6Frame builds an Ethernet/IPv6/TCP frame.
func ipv6Frame(sport, dport uint16, next byte) []byte {
	b := make([]byte, 14+40+20)
	binary.BigEndian.PutUint16(b[12:], 0x86dd)
	b[14] = 0x60
	binary.BigEndian.PutUint16(b[18:], 20)
	b[20] = next
	binary.BigEndian.PutUint16(b[54:], sport)
	binary.BigEndian.PutUint16(b[56:], dport)
	b[54+12] = 5 << 4
	return b
}

func TestPortFilter(t *testing.T) {
	cfg := Config{Postgres: []uint16{5432, 5433}, MySQL: []uint16{3306}}.withDefaults()
	raw, err := portFilter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("program does not disassemble")
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	cli, srv := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	fragment := frame(cli, srv, 40000, 5432, 1, 0, flagACK, []byte("x"))
	binary.BigEndian.PutUint16(fragment[20:], 100) // fragment offset
	udp := frame(cli, srv, 40000, 5432, 1, 0, 0, nil)
	udp[23] = 17
	arp := make([]byte, 60)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	tests := []struct {
		name string
		b    []byte
		take bool
	}{
		{"to postgres", frame(cli, srv, 40000, 5432, 1, 0, flagSYN, nil), true},
		{"from the second postgres port", frame(srv, cli, 5433, 40000, 1, 0, flagACK, []byte("R")), true},
		{"to mysql", frame(cli, srv, 40000, 3306, 1, 0, flagACK, []byte("x")), true},
		{"to another port", frame(cli, srv, 40000, 80, 1, 0, flagSYN, nil), false},
		{"udp", udp, false},
		{"ipv4 fragment", fragment, false},
		{"arp", arp, false},
		{"ipv6 to mysql", ipv6Frame(40000, 3306, 6), true},
		{"ipv6 from postgres", ipv6Frame(5432, 40000, 6), true},
		{"ipv6 to another port", ipv6Frame(40000, 443, 6), false},
		{"ipv6 udp", ipv6Frame(40000, 5432, 17), false},
	}
	for _, tt := range tests {
		n, err := vm.Run(tt.b)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if (n > 0) != tt.take {
			t.Errorf("%s: filter returned %d, want taken %v", tt.name, n, tt.take)
		}
	}
}
