package packet

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// portFilter compiles the default filter, TCP over IPv4 or IPv6 on Ethernet
// to or from one of the configured ports, into a classic BPF program for
// the kernel, without libpcap. Frames with VLAN tags and IPv4 fragments
// after the first are not taken; IPv6 extension headers before TCP are not
// followed.
func portFilter(c Config) ([]bpf.RawInstruction, error) {
	var ports []uint32
	for _, ps := range [][]uint16{c.Postgres, c.MySQL} {
		for _, p := range ps {
			ports = append(ports, uint32(p))
		}
	}
	if len(ports) == 0 || len(ports) > 50 {
		return nil, fmt.Errorf("%d ports: the built-in filter takes 1 to 50", len(ports))
	}
	var a asm
	a.add(bpf.LoadAbsolute{Off: 12, Size: 2})
	a.jump(bpf.JumpEqual, 0x86dd, "ipv6", "")
	a.jump(bpf.JumpEqual, 0x0800, "", "drop")
	a.add(bpf.LoadAbsolute{Off: 23, Size: 1})
	a.jump(bpf.JumpEqual, 6, "", "drop")
	a.add(bpf.LoadAbsolute{Off: 20, Size: 2})
	a.jump(bpf.JumpBitsSet, 0x1fff, "drop", "")
	a.add(bpf.LoadMemShift{Off: 14})
	for _, off := range []uint32{14, 16} { // source, destination port
		a.add(bpf.LoadIndirect{Off: off, Size: 2})
		for _, p := range ports {
			a.jump(bpf.JumpEqual, p, "accept", "")
		}
	}
	a.goTo("drop")
	a.label("ipv6")
	a.add(bpf.LoadAbsolute{Off: 20, Size: 1})
	a.jump(bpf.JumpEqual, 6, "", "drop")
	for _, off := range []uint32{54, 56} {
		a.add(bpf.LoadAbsolute{Off: off, Size: 2})
		for _, p := range ports {
			a.jump(bpf.JumpEqual, p, "accept", "")
		}
	}
	a.goTo("drop")
	a.label("accept")
	a.add(bpf.RetConstant{Val: uint32(c.Snaplen)})
	a.label("drop")
	a.add(bpf.RetConstant{Val: 0})
	return a.assemble()
}

// asm assembles BPF with named jump targets.
type asm struct {
	ins    []asmIns
	labels map[string]int
}

type asmIns struct {
	in        bpf.Instruction
	cond      bpf.JumpTest
	val       uint32
	yes, no   string // targets of a conditional jump ("" = next)
	to        string // target of an unconditional jump
	condition bool
}

func (a *asm) add(in bpf.Instruction) { a.ins = append(a.ins, asmIns{in: in}) }

func (a *asm) jump(cond bpf.JumpTest, val uint32, yes, no string) {
	a.ins = append(a.ins, asmIns{cond: cond, val: val, yes: yes, no: no, condition: true})
}

func (a *asm) goTo(to string) { a.ins = append(a.ins, asmIns{to: to}) }

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.ins)
}

func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	skip := func(from int, to string) (uint32, error) {
		if to == "" {
			return 0, nil
		}
		at, ok := a.labels[to]
		if !ok || at <= from {
			return 0, fmt.Errorf("bad jump target %q", to)
		}
		return uint32(at - from - 1), nil
	}
	out := make([]bpf.Instruction, len(a.ins))
	for i, in := range a.ins {
		switch {
		case in.condition:
			yes, err := skip(i, in.yes)
			if err != nil {
				return nil, err
			}
			no, err := skip(i, in.no)
			if err != nil {
				return nil, err
			}
			if yes > 255 || no > 255 {
				return nil, fmt.Errorf("jump too long")
			}
			out[i] = bpf.JumpIf{Cond: in.cond, Val: in.val, SkipTrue: uint8(yes), SkipFalse: uint8(no)}
		case in.to != "":
			n, err := skip(i, in.to)
			if err != nil {
				return nil, err
			}
			out[i] = bpf.Jump{Skip: n}
		default:
			out[i] = in.in
		}
	}
	return bpf.Assemble(out)
}
