package symbolize

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmdbg/wasmdbg/internal/loc"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in   string
		code bool
		want loc.Offset
	}{
		{"0x1bf", false, loc.ModuleOffset(0x1bf)},
		{"0X1BF", false, loc.ModuleOffset(0x1bf)},
		{" 447\t", false, loc.ModuleOffset(447)},
		{"0x27", true, loc.CodeOffset(0x27)},
		{"39", true, loc.CodeOffset(39)},
		{"func[5]+0x12", false, loc.FuncOffset{Func: 5, Offset: 0x12}},
		{"func[5]+18", true, loc.FuncOffset{Func: 5, Offset: 18}},
		{"0xffffffffffffffff", false, loc.ModuleOffset(1<<64 - 1)},
	}
	for _, tt := range tests {
		got, err := ParseAddress(tt.in, tt.code)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseAddress(%q, %v) = %v, %v; want %v", tt.in, tt.code, got, err, tt.want)
		}
	}
	errs := []struct{ in, want string }{
		{"", `bad address "": want hex (0x1bf) or decimal (447)`},
		{"0x", `bad address "0x": want hex (0x1bf) or decimal (447)`},
		{"0xg1", `bad address "0xg1": want hex (0x1bf) or decimal (447)`},
		{"1bf", `bad address "1bf": want hex (0x1bf) or decimal (447)`},
		{"-1", `bad address "-1": want hex (0x1bf) or decimal (447)`},
		{"0x10000000000000000", `bad address "0x10000000000000000": want hex (0x1bf) or decimal (447)`},
		{"func[5]", `bad address "func[5]": want func[N]+0xOFF`},
		{"func[x]+0x1", `bad address "func[x]+0x1": function index "x" is not a number`},
		{"func[5]+zz", `bad address "func[5]+zz": want hex (0x1bf) or decimal (447)`},
	}
	for _, tt := range errs {
		_, err := ParseAddress(tt.in, false)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseAddress(%q) error %v, want %q", tt.in, err, tt.want)
		}
	}
}

// Batch answers in step with its input, flushing as input pauses, and
// reports each bad line with its position.
func TestBatch(t *testing.T) {
	m := sharedFixture(t, "cpp")
	var out strings.Builder
	var errs []string
	failed, err := m.Batch(strings.NewReader("0x1573\n\nbad\n0x99999\n"), "addrs.txt", &out, false, Format{PrintAddress: true}, func(e error) { errs = append(errs, e.Error()) })
	if err != nil || failed != 2 {
		t.Fatalf("failed %d, err %v", failed, err)
	}
	want := "0x1573\nplugin::crash::unreachableNow()\nplugin.cc:55:51\n\nbad\n??\n??:0:0\n\n0x99999\n??\n??:0:0\n\n"
	if out.String() != want {
		t.Errorf("output\n%q\nwant\n%q", out.String(), want)
	}
	wantErrs := []string{
		`addrs.txt:3: bad address "bad": want hex (0x1bf) or decimal (447)`,
		"addrs.txt:4: 0x99999: outside the code section (0x3b6–0x682d)",
	}
	if !reflect.DeepEqual(errs, wantErrs) {
		t.Errorf("errors %q, want %q", errs, wantErrs)
	}
}

func TestAppendInt(t *testing.T) {
	for _, n := range []int{0, 7, 10, 99, 100, 12345, 999999999, 1000000000, -1, -42, 1 << 40} {
		if got, want := string(appendInt([]byte("x"), n)), "x"+strconv.Itoa(n); got != want {
			t.Errorf("appendInt(%d) = %q, want %q", n, got, want)
		}
	}
}
