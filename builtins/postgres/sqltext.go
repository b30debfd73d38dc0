package postgres

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxIdentifierLength is PostgreSQL's NAMEDATALEN (64) less the final NUL
// byte; the server cuts longer identifiers short.
const maxIdentifierLength = 63

// QuoteIdent returns name as a PostgreSQL identifier in double quotes, with
// every double quote doubled, like the server's quote_ident but always
// quoted. A name with a NUL byte, or longer than 63 bytes, cannot be an
// identifier and is an error.
func QuoteIdent(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("an identifier cannot be empty")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("an identifier cannot contain a NUL byte")
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("an identifier must be valid UTF-8")
	}
	if len(name) > maxIdentifierLength {
		return "", fmt.Errorf("an identifier is at most %d bytes, got %d; PostgreSQL would cut it short", maxIdentifierLength, len(name))
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`, nil
}

// QuoteLiteral returns s as a PostgreSQL string literal, like the server's
// quote_literal. A value with a backslash is written as an escape string
// (E'...') with every backslash doubled, so the literal means the same
// whatever standard_conforming_strings is set to. Text cannot contain a NUL
// byte, so such a value is an error.
func QuoteLiteral(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", fmt.Errorf("a string literal cannot contain a NUL byte")
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("a string literal must be valid UTF-8")
	}
	body := strings.ReplaceAll(s, `'`, `''`)
	if strings.Contains(s, `\`) {
		return `E'` + strings.ReplaceAll(body, `\`, `\\`) + `'`, nil
	}
	return `'` + body + `'`, nil
}

// statement is one SQL statement of a script, with the positions of its
// parameter placeholders ($1, $2, ...).
type statement struct {
	text         string
	placeholders []placeholder
}

// placeholder is one $n in a statement: its byte offsets and its number.
type placeholder struct {
	start, end int
	n          int
}

// splitSQL splits sql into statements at the semicolons that end them, the
// way psql does: semicolons inside string literals, quoted identifiers,
// dollar-quoted strings, comments, parentheses and the BEGIN ... END body of
// a CREATE FUNCTION or CREATE PROCEDURE do not end a statement. Statements
// that hold only white space and comments are dropped.
func splitSQL(sql string) ([]statement, error) {
	var (
		out        []statement
		start      int
		holders    []placeholder
		parens     int
		beginDepth int
		firstWord  string
		words      int
	)
	flush := func(end int) {
		text := sql[start:end]
		if strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(stripComments(text)), ";")) != "" {
			shifted := make([]placeholder, len(holders))
			for i, p := range holders {
				shifted[i] = placeholder{start: p.start - start, end: p.end - start, n: p.n}
			}
			out = append(out, statement{text: text, placeholders: shifted})
		}
		holders, parens, beginDepth, firstWord, words = nil, 0, 0, "", 0
	}

	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				i = len(sql)
			} else {
				i += j + 1
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			end, err := skipBlockComment(sql, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '\'':
			escape := i > 0 && (sql[i-1] == 'e' || sql[i-1] == 'E') && (i < 2 || !isIdentChar(sql[i-2]))
			end, err := skipQuoted(sql, i, '\'', escape)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '"':
			end, err := skipQuoted(sql, i, '"', false)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '$':
			if n, end, ok := scanPlaceholder(sql, i); ok {
				holders = append(holders, placeholder{start: i, end: end, n: n})
				i = end
				continue
			}
			if tag, ok := scanDollarTag(sql, i); ok {
				j := strings.Index(sql[i+len(tag):], tag)
				if j < 0 {
					return nil, fmt.Errorf("the dollar-quoted string that starts with %s is not closed", tag)
				}
				i += len(tag) + j + len(tag)
				continue
			}
			i++
		case c == '(':
			parens++
			i++
		case c == ')':
			parens--
			i++
		case c == ';' && parens <= 0 && beginDepth == 0:
			flush(i + 1)
			i++
			start = i
		case isIdentStart(c):
			j := i
			for j < len(sql) && isIdentChar(sql[j]) {
				j++
			}
			word := strings.ToLower(sql[i:j])
			if words == 0 {
				firstWord = word
			}
			words++
			// psql counts BEGIN and CASE against END only in CREATE
			// statements, where BEGIN ATOMIC opens a function body.
			if firstWord == "create" {
				switch word {
				case "begin", "case":
					beginDepth++
				case "end":
					if beginDepth > 0 {
						beginDepth--
					}
				}
			}
			i = j
		default:
			i++
		}
	}
	flush(len(sql))
	return out, nil
}

// stripComments removes -- and /* */ comments outside quotes; splitSQL uses
// it only to tell whether a statement is empty.
func stripComments(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return b.String()
			}
			i += j + 1
		case strings.HasPrefix(s[i:], "/*"):
			end, err := skipBlockComment(s, i)
			if err != nil {
				return b.String() + s[i:]
			}
			i = end
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

func skipBlockComment(s string, i int) (int, error) {
	depth := 0
	for j := i; j < len(s); {
		switch {
		case strings.HasPrefix(s[j:], "/*"):
			depth++
			j += 2
		case strings.HasPrefix(s[j:], "*/"):
			depth--
			j += 2
			if depth == 0 {
				return j, nil
			}
		default:
			j++
		}
	}
	return 0, fmt.Errorf("a /* comment is not closed")
}

// skipQuoted returns the offset after the quoted text that starts at i. A
// doubled quote stands for itself; with escape (an E'...' string) a
// backslash escapes the next byte.
func skipQuoted(s string, i int, quote byte, escape bool) (int, error) {
	for j := i + 1; j < len(s); j++ {
		switch {
		case escape && s[j] == '\\':
			j++
		case s[j] == quote:
			if j+1 < len(s) && s[j+1] == quote {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	if quote == '"' {
		return 0, fmt.Errorf("a quoted identifier is not closed")
	}
	return 0, fmt.Errorf("a string literal is not closed")
}

// scanPlaceholder reads $n at i, unless the $ is part of an identifier.
func scanPlaceholder(s string, i int) (n, end int, ok bool) {
	if i > 0 && isIdentChar(s[i-1]) {
		return 0, 0, false
	}
	j := i + 1
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i+1 || (j < len(s) && isIdentChar(s[j])) {
		return 0, 0, false
	}
	n, err := strconv.Atoi(s[i+1 : j])
	if err != nil || n < 1 {
		return 0, 0, false
	}
	return n, j, true
}

// scanDollarTag reads the opening tag of a dollar-quoted string at i: $$ or
// $tag$.
func scanDollarTag(s string, i int) (string, bool) {
	if i > 0 && isIdentChar(s[i-1]) {
		return "", false
	}
	j := i + 1
	for j < len(s) && s[j] != '$' {
		if !isIdentChar(s[j]) || (j == i+1 && s[j] >= '0' && s[j] <= '9') {
			return "", false
		}
		j++
	}
	if j >= len(s) {
		return "", false
	}
	return s[i : j+1], true
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$'
}

// checkArgs checks that the placeholders of stmts match nargs arguments: a
// statement with arguments must be the only one, and it must use $1 to $n.
func checkArgs(stmts []statement, nargs int) error {
	if len(stmts) == 0 {
		return fmt.Errorf("the SQL text contains no statement")
	}
	if nargs > 0 && len(stmts) > 1 {
		return fmt.Errorf("SQL with arguments must be one statement, got %d statements; run them one by one", len(stmts))
	}
	max := 0
	for _, s := range stmts {
		for _, p := range s.placeholders {
			if p.n > max {
				max = p.n
			}
		}
	}
	if max != nargs {
		return fmt.Errorf("the SQL text uses parameters up to $%d but %d arguments were given", max, nargs)
	}
	return nil
}
