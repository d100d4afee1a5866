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
	"health":                {"flowservice"},
	"emulator":              {"flowapi", "internal/atomicfile", "s3source"},
	"bench":                 {"emulator", "flowservice", "internal/testmanifest", "s3source"},
	"workspace":             {"emulator", "flowservice", "health", "internal/shell", "lockfile", "manifest", "names", "reconcile", "s3source"},
	"cli":                   {"emulator", "flowservice", "generate", "health", "internal/atomicfile", "internal/regular", "internal/shell", "lockfile", "manifest", "names", "planfile", "reconcile", "s3source", "schema", "view", "workspace"},
	"internal/atomicfile":   nil,
	"generate":              {"flowapi", "lockfile", "manifest", "names", "reconcile", "s3source"},
	"view":                  {"flowservice", "health", "internal/shell", "reconcile", "workspace"},
	".":                     {"cli"},
}

// noNetwork are packages whose code, with everything it imports from the module, must not
// import net or net/http: what plans and records changes cannot send anything.
var noNetwork = []string{"internal/regular", "s3source", "names", "schema", "flowapi", "lockfile", "manifest", "reconcile", "planfile", "generate"}

// TestLayers parses the imports of every non-test file and holds them to layers.
func TestLayers(t *testing.T) {
	imports := map[string][]string{} // package dir → module imports (by dir) and std imports
	std := map[string][]string{}
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
