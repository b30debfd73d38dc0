package runtime

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"go.starlark.net/syntax"
)

// StdlibDoc renders the doc strings of the stdlib modules in fsys: each
// module's doc string and the signature and doc string of each public
// function, so `cocalcctl doc stdlib` shows what scripts can load.
func StdlibDoc(fsys fs.FS) (string, error) {
	names, err := fs.Glob(fsys, "*.star")
	if err != nil {
		return "", err
	}
	sort.Strings(names)

	var b strings.Builder
	b.WriteString("STDLIB\n\n  Starlark modules built into cocalcctl. Load them with load(\"@stdlib//NAME.star\", \"function\").\n\n")
	for _, name := range names {
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return "", err
		}
		f, err := (&syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}).Parse(name, src, syntax.RetainComments)
		if err != nil {
			return "", fmt.Errorf("stdlib %s: %w", name, err)
		}
		fmt.Fprintf(&b, "  @stdlib//%s\n", name)
		if doc := docString(f.Stmts); doc != "" {
			fmt.Fprintf(&b, "%s\n", indent(doc, "      "))
		}
		b.WriteString("\n")
		for _, stmt := range f.Stmts {
			def, ok := stmt.(*syntax.DefStmt)
			if !ok || strings.HasPrefix(def.Name.Name, "_") {
				continue
			}
			fmt.Fprintf(&b, "    %s(%s)\n", def.Name.Name, params(src, def))
			if doc := docString(def.Body); doc != "" {
				fmt.Fprintf(&b, "%s\n", indent(doc, "        "))
			}
			b.WriteString("\n")
		}
	}
	return b.String(), nil
}

func docString(stmts []syntax.Stmt) string {
	if len(stmts) == 0 {
		return ""
	}
	expr, ok := stmts[0].(*syntax.ExprStmt)
	if !ok {
		return ""
	}
	lit, ok := expr.X.(*syntax.Literal)
	if !ok || lit.Token != syntax.STRING {
		return ""
	}
	s, _ := lit.Value.(string)
	return dedent(strings.TrimSpace(s))
}

// dedent removes the indentation that Python-style doc strings carry after
// their first line.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	for i := 1; i < len(lines); i++ {
		lines[i] = strings.TrimPrefix(lines[i], "    ")
	}
	return strings.Join(lines, "\n")
}

func params(src []byte, def *syntax.DefStmt) string {
	var parts []string
	for _, p := range def.Params {
		start, end := p.Span()
		parts = append(parts, sourceSpan(src, start, end))
	}
	return strings.Join(parts, ", ")
}

func sourceSpan(src []byte, start, end syntax.Position) string {
	lines := strings.Split(string(src), "\n")
	if start.Line != end.Line || int(start.Line) > len(lines) {
		return "..."
	}
	line := lines[start.Line-1]
	from, to := int(start.Col)-1, int(end.Col)-1
	if from < 0 || to > len(line) || from > to {
		return "..."
	}
	return line[from:to]
}
