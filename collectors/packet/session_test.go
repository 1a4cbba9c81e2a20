package packet

import "testing"

// TestPortTable sets ports at the edges of the table's words and checks that
// each reads back and that its neighbours are untouched.
func TestPortTable(t *testing.T) {
	var tab portTable
	set := map[uint16]protocol{0: protoPostgres, 31: protoMySQL, 32: protoPostgres, 33: protoMySQL, 3306: protoMySQL, 5432: protoPostgres, 65535: protoMySQL}
	for port, p := range set {
		tab.set(port, p)
	}
	tab.set(3306, protoPostgres) // changed
	set[3306] = protoPostgres
	tab.set(33, protoNone) // cleared
	delete(set, 33)
	for port := range 1 << 16 {
		if got, want := tab.get(uint16(port)), set[uint16(port)]; got != want {
			t.Errorf("port %d: %v, want %v", port, got, want)
		}
	}
}
