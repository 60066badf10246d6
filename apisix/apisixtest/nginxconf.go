package apisixtest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrorPage is what nginx answers, instead of its built-in HTML page, for a
// status that an error_page directive of config.yaml's
// nginx_config.http_server_configuration_snippet sends to a named location
// ending in "return <code> <text>".
type ErrorPage struct {
	Status      int    // the status the client gets
	ContentType string // the named location's default_type (nginx's default: text/plain)
	Body        []byte // the text of its return directive, as is
}

// nginxDirective is one directive of an nginx configuration: its name, its
// arguments (quotes removed, escapes resolved) and, for a block, what is
// inside.
type nginxDirective struct {
	name  string
	args  []string
	block []nginxDirective // nil: a simple directive ending in ";"
}

// parseErrorPages reads the error_page directives of a server-level snippet
// (http_server_configuration_snippet) that point to a named location of the
// same snippet answering with "return": the pages nginx then sends for those
// statuses. Any other error_page target (a URI, a named location without
// return) is refused, since the emulator could not answer it.
func parseErrorPages(snippet string) (map[int]ErrorPage, error) {
	dirs, err := parseNginxConf(snippet)
	if err != nil {
		return nil, err
	}
	locations := map[string][]nginxDirective{}
	for _, d := range dirs {
		if d.name == "location" && d.block != nil && len(d.args) == 1 && strings.HasPrefix(d.args[0], "@") {
			locations[d.args[0]] = d.block
		}
	}
	pages := map[int]ErrorPage{}
	for _, d := range dirs {
		if d.name != "error_page" {
			continue
		}
		if d.block != nil || len(d.args) < 2 {
			return nil, fmt.Errorf("error_page %s: want codes and a target", strings.Join(d.args, " "))
		}
		target := d.args[len(d.args)-1]
		var codes []int
		override := "" // "=" or "=NNN": the status the client gets
		for _, a := range d.args[:len(d.args)-1] {
			if strings.HasPrefix(a, "=") {
				override = a
				continue
			}
			n, err := strconv.Atoi(a)
			if err != nil || n < 300 || n > 599 {
				return nil, fmt.Errorf("error_page: invalid code %q", a)
			}
			codes = append(codes, n)
		}
		if len(codes) == 0 {
			return nil, fmt.Errorf("error_page %s: no code", strings.Join(d.args, " "))
		}
		block, ok := locations[target]
		if !ok {
			return nil, fmt.Errorf("error_page %s: target %q is not a named location of the snippet", strings.Join(d.args, " "), target)
		}
		page, err := namedLocationPage(target, block)
		if err != nil {
			return nil, err
		}
		for _, code := range codes {
			p := page
			switch {
			case override == "":
				p.Status = code // nginx keeps the original status
			case override == "=":
				// the named location's own status: its return code
			default:
				n, err := strconv.Atoi(override[1:])
				if err != nil || n < 200 || n > 599 {
					return nil, fmt.Errorf("error_page: invalid response code %q", override)
				}
				p.Status = n
			}
			pages[code] = p
		}
	}
	return pages, nil
}

// namedLocationPage is the answer of a named location made of default_type
// and "return code text" (other directives that do not change the answer,
// like add_header, are not emulated and refused).
func namedLocationPage(name string, block []nginxDirective) (ErrorPage, error) {
	page := ErrorPage{ContentType: "text/plain"}
	var hasReturn bool
	for _, d := range block {
		switch d.name {
		case "default_type":
			if len(d.args) != 1 {
				return page, fmt.Errorf("location %s: default_type takes one argument", name)
			}
			page.ContentType = d.args[0]
		case "return":
			if len(d.args) != 2 {
				return page, fmt.Errorf("location %s: want \"return <code> <text>\"", name)
			}
			n, err := strconv.Atoi(d.args[0])
			if err != nil || n < 200 || n > 599 {
				return page, fmt.Errorf("location %s: return: invalid code %q", name, d.args[0])
			}
			if strings.Contains(d.args[1], "$") {
				return page, fmt.Errorf("location %s: return text with a variable is not emulated", name)
			}
			page.Status, page.Body, hasReturn = n, []byte(d.args[1]), true
		default:
			return page, fmt.Errorf("location %s: directive %q is not emulated", name, d.name)
		}
	}
	if !hasReturn {
		return page, fmt.Errorf("location %s: no return directive", name)
	}
	return page, nil
}

// parseNginxConf parses nginx configuration text into directives: words
// and quoted strings ("..." or '...', with nginx's backslash escapes) make
// the arguments, ";" ends a directive, "{...}" is a block, "#" starts a
// comment.
func parseNginxConf(text string) ([]nginxDirective, error) {
	toks, err := nginxTokens(text)
	if err != nil {
		return nil, err
	}
	dirs, rest, err := nginxBlock(toks, false)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errors.New(`unexpected "}"`)
	}
	return dirs, nil
}

type nginxToken struct {
	text   string
	quoted bool // a quoted string: never a ";", "{" or "}"
}

func (t nginxToken) is(s string) bool { return !t.quoted && t.text == s }

func nginxBlock(toks []nginxToken, inBlock bool) ([]nginxDirective, []nginxToken, error) {
	var dirs []nginxDirective
	for len(toks) > 0 {
		if toks[0].is("}") {
			if !inBlock {
				return dirs, toks, nil
			}
			return dirs, toks[1:], nil
		}
		if toks[0].is(";") || toks[0].is("{") {
			return nil, nil, fmt.Errorf("unexpected %q", toks[0].text)
		}
		d := nginxDirective{name: toks[0].text}
		toks = toks[1:]
		for {
			if len(toks) == 0 {
				return nil, nil, fmt.Errorf("directive %q: unexpected end (missing \";\" or \"}\")", d.name)
			}
			t := toks[0]
			toks = toks[1:]
			if t.is(";") {
				break
			}
			if t.is("{") {
				var err error
				d.block, toks, err = nginxBlock(toks, true)
				if err != nil {
					return nil, nil, err
				}
				if d.block == nil {
					d.block = []nginxDirective{}
				}
				break
			}
			if t.is("}") {
				return nil, nil, fmt.Errorf("directive %q: unexpected \"}\"", d.name)
			}
			d.args = append(d.args, t.text)
		}
		dirs = append(dirs, d)
	}
	if inBlock {
		return nil, nil, errors.New(`unexpected end: missing "}"`)
	}
	return dirs, nil, nil
}

func nginxTokens(text string) ([]nginxToken, error) {
	var toks []nginxToken
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '#':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == ';' || c == '{' || c == '}':
			toks = append(toks, nginxToken{text: string(c)})
			i++
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(text) && text[j] != c; j++ {
				if text[j] == '\\' && j+1 < len(text) {
					j++
					switch text[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					case '"', '\'', '\\':
						b.WriteByte(text[j])
					default: // nginx keeps an unknown escape as written
						b.WriteByte('\\')
						b.WriteByte(text[j])
					}
					continue
				}
				b.WriteByte(text[j])
			}
			if j >= len(text) {
				return nil, fmt.Errorf("unterminated %c string", c)
			}
			toks = append(toks, nginxToken{text: b.String(), quoted: true})
			i = j + 1
		default:
			j := i
			// Quotes and "#" only count at the start of a token.
			for j < len(text) && !strings.ContainsRune(" \t\r\n;{}", rune(text[j])) {
				j++
			}
			toks = append(toks, nginxToken{text: text[i:j]})
			i = j
		}
	}
	return toks, nil
}
