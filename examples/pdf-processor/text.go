package main

import (
	"strings"
)

// PageText is the text a page's content stream shows: the string operands
// of its text-showing operators (Tj, TJ, ' and "), with a line break where
// the stream starts a new line (T*, Td, TD, ', ", ET). pdfcpu decodes the
// stream; it has no text extraction of its own. Strings are taken as their
// bytes (the standard and WinAnsi encodings of simple fonts agree with
// ASCII); glyphs of other encodings come out as they are coded.
func PageText(content []byte) string {
	var out, line strings.Builder
	var operands []string // strings seen since the last operator
	flush := func() {
		if s := strings.TrimSpace(line.String()); s != "" {
			out.WriteString(s)
			out.WriteByte('\n')
		}
		line.Reset()
	}
	for i := 0; i < len(content); {
		c := content[i]
		switch {
		case c == '(':
			s, n := literalString(content[i:])
			operands = append(operands, s)
			i += n
		case c == '<' && i+1 < len(content) && content[i+1] != '<':
			s, n := hexString(content[i:])
			operands = append(operands, s)
			i += n
		case c == '%':
			for i < len(content) && content[i] != '\n' && content[i] != '\r' {
				i++
			}
		case isRegular(c):
			j := i
			for j < len(content) && isRegular(content[j]) {
				j++
			}
			switch op := string(content[i:j]); op {
			case "Tj", "TJ":
				for _, s := range operands {
					line.WriteString(s)
				}
			case "'", `"`:
				flush()
				for _, s := range operands {
					line.WriteString(s)
				}
			case "T*", "Td", "TD", "ET":
				flush()
			}
			if !isNumber(content[i:j]) {
				operands = operands[:0]
			}
			i = j
		default:
			i++
		}
	}
	flush()
	return strings.TrimRight(out.String(), "\n")
}

// isRegular reports a byte of a PDF token (not white space, not a
// delimiter).
func isRegular(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '\f', 0, '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return false
	}
	return true
}

// isNumber tells a number operand (kept for TJ arrays) from an operator.
func isNumber(tok []byte) bool {
	for _, c := range tok {
		if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' {
			return false
		}
	}
	return len(tok) > 0
}

// literalString decodes the (...) string at the start of b (balanced
// parentheses, backslash escapes) and returns it with the bytes it took.
func literalString(b []byte) (string, int) {
	var s strings.Builder
	depth := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '(':
			if depth > 0 {
				s.WriteByte(c)
			}
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return s.String(), i + 1
			}
			s.WriteByte(c)
		case c == '\\' && i+1 < len(b):
			i++
			switch e := b[i]; e {
			case 'n':
				s.WriteByte('\n')
			case 'r':
				s.WriteByte('\r')
			case 't':
				s.WriteByte('\t')
			case 'b', 'f':
			case '\r', '\n': // a line continuation
			default:
				if e >= '0' && e <= '7' {
					v, k := 0, 0
					for ; k < 3 && i+k < len(b) && b[i+k] >= '0' && b[i+k] <= '7'; k++ {
						v = v*8 + int(b[i+k]-'0')
					}
					s.WriteByte(byte(v))
					i += k - 1
				} else {
					s.WriteByte(e)
				}
			}
		default:
			s.WriteByte(c)
		}
	}
	return s.String(), len(b)
}

// hexString decodes the <...> string at the start of b.
func hexString(b []byte) (string, int) {
	var s strings.Builder
	hi, half := byte(0), false
	for i := 1; i < len(b); i++ {
		c := b[i]
		var v byte
		switch {
		case c == '>':
			if half {
				s.WriteByte(hi << 4)
			}
			return s.String(), i + 1
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			continue
		}
		if half {
			s.WriteByte(hi<<4 | v)
		} else {
			hi = v
		}
		half = !half
	}
	return s.String(), len(b)
}
