package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/flowsync/flowsync"

// layers is who may import whom inside the module (README, "Development"): a package imports
// only the packages listed for it. Leaves first; reconcile, the plan and apply, sits below the
// HTTP client and never reaches the network.
var layers = map[string][]string{
	"s3source":              nil,
	"names":                 nil,
	"internal/badservice":   nil,
	"internal/testmanifest": nil,
	"internal/strictjson":   nil,
	"internal/regular":      nil,
	"internal/shell":        nil,
	"schema":                {"s3source"},
	"flowapi":               {"s3source"},
	"lockfile":              {"internal/atomicfile", "internal/regular", "internal/strictjson", "names", "s3source"},
	"manifest":              {"internal/regular", "names", "s3source", "schema"},
	"reconcile":             {"flowapi", "internal/shell", "lockfile", "manifest", "names", "s3source"},
	"flowservice":           {"flowapi", "names", "reconcile", "s3source"},
	"planfile":              {"flowapi", "internal/regular", "internal/strictjson", "lockfile", "reconcile", "s3source"},
	"health":                {"flowservice", "reconcile"},
	"emulator":              {"flowapi", "internal/atomicfile", "s3source"},
	"bench":                 {"emulator", "flowservice", "internal/testmanifest", "s3source"},
	"workspace":             {"emulator", "flowservice", "health", "internal/regular", "internal/shell", "lockfile", "manifest", "names", "reconcile", "s3source"},
	"cli":                   {"emulator", "flowservice", "generate", "health", "internal/atomicfile", "internal/regular", "internal/shell", "lockfile", "manifest", "names", "planfile", "reconcile", "s3source", "schema", "view", "workspace"},
	"internal/atomicfile":   nil,
	"generate":              {"flowapi", "internal/shell", "lockfile", "manifest", "names", "reconcile", "s3source"},
	"view":                  {"flowservice", "health", "internal/shell", "reconcile", "s3source", "workspace"},
	".":                     {"cli"},
}

// noNetwork are packages whose code, with everything it imports from the module, must not
// import net or net/http: what plans and records changes cannot send anything.
var noNetwork = []string{"internal/regular", "s3source", "names", "schema", "flowapi", "lockfile", "manifest", "reconcile", "planfile", "generate"}

// moduleImports parses the imports of every non-test file: per package directory, the
// module packages it imports (by directory, sorted) and the standard library packages.
func moduleImports(t *testing.T) (imports, std map[string][]string) {
	imports, std = map[string][]string{}, map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if rel, ok := strings.CutPrefix(p, module+"/"); ok {
				imports[dir] = appendNew(imports[dir], rel)
			} else if !strings.Contains(strings.Split(p, "/")[0], ".") {
				std[dir] = appendNew(std[dir], p)
			}
		}
		if _, ok := imports[dir]; !ok {
			imports[dir] = nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return imports, std
}

// TestLayers holds the imports of every non-test file to layers.
func TestLayers(t *testing.T) {
	imports, std := moduleImports(t)
	for dir, got := range imports {
		allowed, ok := layers[dir]
		if !ok {
			t.Errorf("package %s is not in layers: add it, and to README's Development section", dir)
			continue
		}
		for _, p := range got {
			if !slices.Contains(allowed, p) {
				t.Errorf("%s imports %s, which layers does not allow", dir, p)
			}
		}
	}
	for _, root := range noNetwork {
		seen := map[string]bool{}
		var walk func(string)
		walk = func(dir string) {
			if seen[dir] {
				return
			}
			seen[dir] = true
			for _, s := range std[dir] {
				if s == "net" || strings.HasPrefix(s, "net/") && s != "net/url" {
					t.Errorf("%s reaches %s through %s", root, s, dir)
				}
			}
			for _, p := range imports[dir] {
				walk(p)
			}
		}
		walk(root)
	}
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	list = append(list, s)
	sort.Strings(list)
	return list
}

// maxFuncLines is the longest a non-test function may be, from func to its closing brace.
const maxFuncLines = 80

// TestFunctionLength keeps every non-test function readable in one screen or so: a longer one
// is split into named steps.
func TestFunctionLength(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			start, end := fset.Position(fd.Pos()), fset.Position(fd.End())
			if n := end.Line - start.Line + 1; n > maxFuncLines {
				t.Errorf("%s: %s is %d lines, more than %d: split it into named steps", start, funcName(fd), n, maxFuncLines)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	return fmt.Sprintf("(%s).%s", types(fd.Recv.List[0].Type), fd.Name.Name)
}

func types(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return "*" + types(x.X)
	case *ast.Ident:
		return x.Name
	case *ast.IndexExpr:
		return types(x.X)
	}
	return "?"
}

// maxParams is the most parameters a non-test function may take: past it, the arguments are
// a struct with named fields.
const maxParams = 6

// TestParameterCount holds every non-test function to maxParams parameters.
func TestParameterCount(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var ft *ast.FuncType
			name := "func literal"
			switch x := n.(type) {
			case *ast.FuncDecl:
				ft, name = x.Type, funcName(x)
			case *ast.FuncLit:
				ft = x.Type
			default:
				return true
			}
			if got := ft.Params.NumFields(); got > maxParams {
				t.Errorf("%s: %s takes %d parameters, more than %d: pass a struct", fset.Position(n.Pos()), name, got, maxParams)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestREADMELayers holds README's Development section to the code: the block after
// "<!-- layers -->" has one line per package, "A ← B, C" (main for the module root), listing
// exactly what A imports from the module, leaves first.
func TestREADMELayers(t *testing.T) {
	imports, _ := moduleImports(t)
	want := layersBlock(imports)
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "<!-- layers -->\n```\n")
	got, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no <!-- layers --> block in its Development section")
	}
	if got != want {
		t.Errorf("README's layers block does not match the imports; it should read:\n%s", want)
	}
}

// layersBlock renders imports as README's layers lines: by depth (leaves first), then name.
func layersBlock(imports map[string][]string) string {
	depth := map[string]int{}
	var depthOf func(string) int
	depthOf = func(p string) int {
		if d, ok := depth[p]; ok {
			return d
		}
		depth[p] = 0 // cycles are TestLayers' business
		d := 0
		for _, q := range imports[p] {
			d = max(d, depthOf(q)+1)
		}
		depth[p] = d
		return d
	}
	pkgs := make([]string, 0, len(imports))
	for p := range imports {
		depthOf(p)
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool {
		if depth[pkgs[i]] != depth[pkgs[j]] {
			return depth[pkgs[i]] < depth[pkgs[j]]
		}
		return pkgs[i] < pkgs[j]
	})
	var b strings.Builder
	for _, p := range pkgs {
		name := p
		if p == "." {
			name = "main"
		}
		if len(imports[p]) == 0 {
			b.WriteString(name + "\n")
			continue
		}
		b.WriteString(name + " ← " + strings.Join(imports[p], ", ") + "\n")
	}
	return b.String()
}
