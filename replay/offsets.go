package replay

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/wasmdbg/wasmdbg/internal/loc"
	wasmfile "github.com/wasmdbg/wasmdbg/internal/wasm"
)

// wazero reports where a trap happened only through its DWARF support: each
// frame of the "wasm stack trace" in a trap error gets a "0xOFF: file:line"
// line, with OFF the code-section offset of the trapping instruction (or of
// the call, for callers), and only when the module has DWARF whose compile
// unit covers that offset. Its experimental stack iterator has the same
// limit: SourceOffsetForPC answers 0 unless DWARF is present, because the
// native-to-wasm offset map is only built then.
//
// So the host compiles a copy of the module whose own .debug_* sections are
// replaced by a tiny synthetic DWARF: one compile unit covering the whole
// code section, one line row. Every frame then carries its exact offset,
// whatever debug information the plugin was built with, and no runtime cost
// is added (wazero reads DWARF only when it formats a trap). Code offsets
// are unchanged by removing custom sections; module offsets are computed
// from the original file. The real debug information is read from the
// original bytes by the loc.Resolver (package symbolize).

// offsetMarker returns the file name the synthetic line table uses. It is
// derived from the module's hash so that a name section cannot forge it and
// the compiled bytes stay the same across runs (the compilation cache key).
func offsetMarker(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return "wasmdbg-offsets-" + hex.EncodeToString(sum[:6])
}

// withOffsetDWARF returns the module bytes to compile: wasm without its
// DWARF sections, plus the synthetic ones.
func withOffsetDWARF(wasm []byte, info *moduleInfo, marker string) []byte {
	out := make([]byte, 0, len(wasm)+128)
	out = append(out, wasm[:8]...)
	for _, s := range info.parsed.Sections {
		if s.ID == wasmfile.SectionCustom && strings.HasPrefix(s.Name, ".debug_") {
			continue
		}
		out = append(out, wasm[s.Offset:s.End()]...)
	}
	if info.codeSize < 2 {
		return out
	}
	return append(out, syntheticDWARF(uint32(info.codeSize), marker)...)
}

func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func customSection(name string, payload []byte) []byte {
	body := appendULEB(nil, uint64(len(name)))
	body = append(body, name...)
	body = append(body, payload...)
	out := append([]byte{0}, appendULEB(nil, uint64(len(body)))...)
	return append(out, body...)
}

// syntheticDWARF builds .debug_abbrev, .debug_info and .debug_line (DWARF 4)
// for one compile unit spanning code offsets [1, codeSize). Offset 0 is
// avoided because wazero treats a zero address as a tombstone; it is the
// function-count LEB, never an instruction.
func syntheticDWARF(codeSize uint32, marker string) []byte {
	le := binary.LittleEndian
	// Abbreviation 1: DW_TAG_compile_unit, no children, with DW_AT_name
	// (string), DW_AT_stmt_list (sec_offset), DW_AT_low_pc (addr) and
	// DW_AT_high_pc (data4, a length).
	abbrev := []byte{1, 0x11, 0, 0x03, 0x08, 0x10, 0x17, 0x11, 0x01, 0x12, 0x06, 0, 0, 0}

	cu := le.AppendUint16(nil, 4) // version
	cu = le.AppendUint32(cu, 0)   // debug_abbrev_offset
	cu = append(cu, 4, 1)         // address_size, abbreviation code
	cu = append(cu, marker...)    // DW_AT_name
	cu = append(cu, 0)            //
	cu = le.AppendUint32(cu, 0)   // DW_AT_stmt_list
	cu = le.AppendUint32(cu, 1)   // DW_AT_low_pc
	cu = le.AppendUint32(cu, codeSize-1)
	info := le.AppendUint32(nil, uint32(len(cu)))
	info = append(info, cu...)

	hdr := []byte{1, 1, 1, 0xfb, 14, 13}                  // min_inst_length, max_ops, default_is_stmt, line_base -5, line_range, opcode_base
	hdr = append(hdr, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1) // standard_opcode_lengths
	hdr = append(hdr, 0)                                  // no include directories
	hdr = append(hdr, marker...)
	hdr = append(hdr, 0, 0, 0, 0) // NUL, dir 0, mtime 0, length 0
	hdr = append(hdr, 0)          // end of file names
	prog := []byte{0, 5, 2}       // DW_LNE_set_address
	prog = le.AppendUint32(prog, 1)
	prog = append(prog, 1, 2) // DW_LNS_copy, DW_LNS_advance_pc
	prog = appendULEB(prog, uint64(codeSize-1))
	prog = append(prog, 0, 1, 1) // DW_LNE_end_sequence
	unit := le.AppendUint16(nil, 4)
	unit = le.AppendUint32(unit, uint32(len(hdr)))
	unit = append(unit, hdr...)
	unit = append(unit, prog...)
	line := le.AppendUint32(nil, uint32(len(unit)))
	line = append(line, unit...)

	var out []byte
	out = append(out, customSection(".debug_abbrev", abbrev)...)
	out = append(out, customSection(".debug_info", info)...)
	out = append(out, customSection(".debug_line", line)...)
	return out
}

// trapOffsets extracts the code offsets of a wazero trap error's stack
// trace, innermost first. Frames of host functions (which have no offset)
// are skipped, as V8 does not show them either.
func trapOffsets(errText, marker string) []loc.CodeOffset {
	var offs []loc.CodeOffset
	suffix := ": " + marker + ":1"
	sc := bufio.NewScanner(strings.NewReader(errText))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "\t\t0x") || !strings.HasSuffix(line, suffix) {
			continue
		}
		hexPart := strings.TrimSuffix(strings.TrimPrefix(line, "\t\t0x"), suffix)
		v, err := strconv.ParseUint(hexPart, 16, 64)
		if err != nil {
			continue
		}
		offs = append(offs, loc.CodeOffset(v))
	}
	return offs
}

// trapOffsets is trapOffsets for the module m compiled: code offsets of
// the original module, whatever the compiled copy's are (fuel.go).
func (m *Module) trapOffsets(errText string) []loc.CodeOffset {
	offs := trapOffsets(errText, m.marker)
	if m.fuel != nil {
		for i, o := range offs {
			offs[i] = loc.CodeOffset(m.fuel.original(uint32(o)))
		}
	}
	return offs
}

// trapHeadline is the first line of a wazero error ("wasm error: unreachable").
func trapHeadline(errText string) string {
	if i := bytes.IndexByte([]byte(errText), '\n'); i >= 0 {
		return errText[:i]
	}
	return errText
}
