package db_test

import (
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// owners names the one package that reads and writes each table. Every
// other package asks the owner through its methods (ledger.Movements,
// funding.CreditsSince, offering.Hold…), and an operation spanning
// packages passes a db.Tx, never a *gorm.DB.
var owners = map[string]string{
	"accounts":                "internal/ledger",
	"transfers":               "internal/ledger",
	"offerings":               "internal/offering",
	"consumption_days":        "internal/offering",
	"lnurl_auth_challenges":   "internal/offering",
	"wallet_keys":             "internal/offering",
	"invoices":                "internal/funding",
	"lightning_cursors":       "internal/funding",
	"payouts":                 "internal/funding",
	"withdraw_links":          "internal/funding",
	"webhooks":                "internal/hooks",
	"webhook_deliveries":      "internal/hooks",
	"webhook_attempts":        "internal/hooks",
	"site_secrets":            "internal/keys",
	"investment_terms":        "internal/invest",
	"investments":             "internal/invest",
	"revenue_events":          "internal/invest",
	"sponsorship_settings":    "internal/sponsor",
	"sponsor_bids":            "internal/sponsor",
	"sponsor_bid_invoices":    "internal/sponsor",
	"sponsor_periods":         "internal/sponsor",
	"demo_invoices":           "internal/lightning/demo",
	"owner_sessions":          "internal/offering",
	"owner_session_offerings": "internal/offering",
}

// storeOf is where a domain package's SQL lives: a package under its
// internal/ folder, so that Go lets only the owner's own tree import it.
func storeOf(owner string) string { return owner + "/internal/store" }

// domainOf returns the owner whose tree holds pkg, if any.
func domainOf(pkg string) (string, bool) {
	for _, owner := range owners {
		if within(pkg, owner) {
			return owner, true
		}
	}
	return "", false
}

// allowedToName reports whether code in pkg may write SQL naming a table
// of owner.
func allowedToName(pkg, owner string) bool {
	return pkg == storeOf(owner) || pkg == "internal/db" || isBenchkit(pkg)
}

// isBenchkit reports whether pkg is one of the measuring tools under
// internal/benchkit: the seeding tool fills a schema with a large site's
// rows in bulk SQL, as no part of the site would. The site never imports
// them (checked below).
func isBenchkit(pkg string) bool { return within(pkg, "internal/benchkit") }

// TestEachTableHasOneOwner reads the site's Go code (tests aside) and
// checks that SQL naming a table appears only in its owner's store, that
// neither web nor main imports GORM or runs SQL on the handles they wire
// (they pass a *db.DB or a db.Tx at most), and that an owner hands its
// handles to its store rather than running statements on them itself.
func TestEachTableHasOneOwner(t *testing.T) {
	root := filepath.Join("..", "..")
	var tables []string
	for name := range owners {
		tables = append(tables, name)
	}
	// A table named where SQL names one: after FROM, JOIN, INTO, UPDATE
	// or TABLE, or alone (GORM's Table and TableName).
	sqlRef := regexp.MustCompile(`(?i)\b(?:from|join|into|update|table|exists)\s+(` + strings.Join(tables, "|") + `)\b`)
	alone := regexp.MustCompile(`^(` + strings.Join(tables, "|") + `)(?:\s+\w+)?$`)
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "node_modules" || name == "testdata" || strings.HasPrefix(name, ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		pkg := filepath.ToSlash(filepath.Dir(rel))
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "gorm.io/") && (pkg == "." || pkg == "web" || strings.HasPrefix(pkg, "web/")) {
				t.Errorf("%s imports %s: web and main reach the database only through the domain packages", rel, p)
			}
			if strings.Contains(p, "/internal/benchkit") && !isBenchkit(pkg) {
				t.Errorf("%s imports %s: the measuring tools are not part of the site", rel, p)
			}
		}
		// A lease's name is no table, even when it reads like one (hooks
		// holds the "webhooks" lease).
		leaseNames := map[ast.Node]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "WithLease" {
					for _, arg := range call.Args {
						leaseNames[arg] = true
					}
				}
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING || leaseNames[lit] {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			var named []string
			for _, m := range sqlRef.FindAllStringSubmatch(s, -1) {
				named = append(named, strings.ToLower(m[1]))
			}
			if m := alone.FindStringSubmatch(s); m != nil {
				named = append(named, m[1])
			}
			for _, table := range named {
				if owner := owners[table]; !allowedToName(pkg, owner) {
					t.Errorf("%s: SQL names %s, a table of %s (its SQL belongs in %s)", fset.Position(lit.Pos()), table, owner, storeOf(owner))
				}
			}
			return true
		})
		// web and main hold a *db.DB or a db.Tx to wire and pass (main
		// hands the pool to notify), never to run queries on.
		if pkg == "." || pkg == "web" || strings.HasPrefix(pkg, "web/") {
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Gorm" {
					t.Errorf("%s: %s runs SQL itself", fset.Position(sel.Pos()), rel)
				}
				return true
			})
		}
		// An owner passes its *db.DB or db.Tx to its store, which alone
		// runs statements on it.
		if owner, ok := domainOf(pkg); ok && !within(pkg, storeOf(owner)) {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Gorm" || sel.Sel.Name == "SQL" && len(call.Args) == 0) {
					t.Errorf("%s: %s runs SQL itself: its statements belong in %s", fset.Position(sel.Pos()), rel, storeOf(owner))
				}
				return true
			})
		}
		// Another package's row type used as a table: X.TableName().
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if ok && sel.Sel.Name == "TableName" {
				if cl, ok := sel.X.(*ast.CompositeLit); ok {
					if _, foreign := cl.Type.(*ast.SelectorExpr); foreign {
						t.Errorf("%s: names another package's table", fset.Position(call.Pos()))
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("read only %d files: is the module root %s?", checked, root)
	}
}

// driverPackages are the import paths that reach a database directly.
var driverPackages = []string{"gorm.io/", "database/sql", "github.com/jackc/pgx", "github.com/lib/pq",
	"modernc.org/sqlite", "github.com/mattn/go-sqlite3", "github.com/glebarez/"}

func isDriver(importPath string) bool {
	for _, p := range driverPackages {
		if strings.HasPrefix(importPath, p) {
			return true
		}
	}
	return false
}

// listedPackage is what TestStoreBoundaries reads of `go list -json`.
type listedPackage struct {
	ImportPath string
	Imports    []string
	Module     *struct {
		Path string
		Main bool
	}
}

// TestStoreBoundaries asks the go command (`go list -deps -json ./...`)
// which package imports which, and checks the boundaries of the stores:
// no package outside an owner's tree imports its store (Go's internal
// rule makes that a compile error; this says so where it is written
// down), every owner that has moved its SQL imports its store and no
// database package itself, and web and main import no database package.
func TestStoreBoundaries(t *testing.T) {
	root := filepath.Join("..", "..")
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list: %v\n%s", err, exit.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	module := ""
	pkgs := map[string]listedPackage{} // by path relative to the module root
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Module == nil || !p.Module.Main {
			continue // the standard library and other modules
		}
		module = p.Module.Path
		pkgs[relative(module, p.ImportPath)] = p
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list named only %d of the module's packages", len(pkgs))
	}
	for rel, p := range pkgs {
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") && isDriver(imp) {
				switch owner, ok := domainOf(rel); {
				case rel == "." || rel == "web" || strings.HasPrefix(rel, "web/"):
					t.Errorf("%s imports %s: web and main reach the database only through the domain packages", rel, imp)
				case ok && !within(rel, storeOf(owner)):
					t.Errorf("%s imports %s: %s reaches its tables only through %s", rel, imp, owner, storeOf(owner))
				}
				continue
			}
			dep := relative(module, imp)
			for _, owner := range owners {
				if within(dep, storeOf(owner)) && !within(rel, owner) {
					t.Errorf("%s imports %s, the store of %s: only %s's own tree may", rel, dep, owner, owner)
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, owner := range owners {
		if seen[owner] {
			continue
		}
		seen[owner] = true
		if _, ok := pkgs[storeOf(owner)]; !ok {
			t.Errorf("%s has no store package %s", owner, storeOf(owner))
			continue
		}
		imports := false
		for _, imp := range pkgs[owner].Imports {
			imports = imports || imp == module+"/"+storeOf(owner)
		}
		if !imports {
			t.Errorf("%s does not import its store %s", owner, storeOf(owner))
		}
	}
}

// relative names a package of the module by its folder, "." for the root.
func relative(module, importPath string) string {
	if importPath == module {
		return "."
	}
	return strings.TrimPrefix(importPath, module+"/")
}

// within reports whether pkg is dir or lies under it.
func within(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

// handWritten and builder are the two ways GORM runs SQL: text written
// out (Raw, Exec) or built from method calls.
var (
	handWritten = map[string]bool{"Raw": true, "Exec": true}
	builder     = map[string]bool{"Where": true, "Find": true, "Take": true, "First": true, "Last": true,
		"Create": true, "Save": true, "Model": true, "Table": true, "Clauses": true, "Pluck": true,
		"Update": true, "Updates": true, "UpdateColumn": true, "Count": true, "Order": true, "Select": true,
		"Joins": true, "Delete": true, "Omit": true, "Distinct": true, "Group": true, "Not": true, "Or": true}
)

// TestOneStyleOfSQLPerStore checks that each store writes its SQL one
// way: by hand through Raw and Exec, or with GORM's query builder, never
// both.
func TestOneStyleOfSQLPerStore(t *testing.T) {
	root := filepath.Join("..", "..")
	seen := map[string]bool{}
	for _, owner := range owners {
		if seen[owner] {
			continue
		}
		seen[owner] = true
		dir := filepath.Join(root, filepath.FromSlash(storeOf(owner)))
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Errorf("%s: no Go files in %s", owner, dir)
			continue
		}
		fset := token.NewFileSet()
		var hand, built []string // positions of the first calls of each style
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch name := sel.Sel.Name; {
				case handWritten[name]:
					hand = append(hand, fset.Position(sel.Sel.Pos()).String())
				case builder[name]:
					built = append(built, fset.Position(sel.Sel.Pos()).String())
				}
				return true
			})
		}
		if len(hand) > 0 && len(built) > 0 {
			t.Errorf("%s writes SQL both by hand (%s) and with the query builder (%s): pick one", storeOf(owner), hand[0], built[0])
		}
	}
}

// TestEveryTableHasAnOwner replays the tables the migrations make (their
// Up sections, in order) and checks that each table left has an owner,
// and that each owner named above owns a table that exists.
func TestEveryTableHasAnOwner(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "migrations", "sqlite", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	statement := regexp.MustCompile(`(?i)\b(?:(create)\s+table\s+(?:if\s+not\s+exists\s+)?(\w+)|(drop)\s+table\s+(?:if\s+exists\s+)?(\w+)|alter\s+table\s+(\w+)\s+(rename)\s+to\s+(\w+))`)
	tables := map[string]bool{}
	for _, path := range files { // Glob sorts: the version order
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		up, _, _ := strings.Cut(string(b), "-- +goose Down")
		for _, m := range statement.FindAllStringSubmatch(up, -1) {
			switch {
			case m[1] != "":
				tables[strings.ToLower(m[2])] = true
			case m[3] != "":
				delete(tables, strings.ToLower(m[4]))
			case m[6] != "":
				delete(tables, strings.ToLower(m[5]))
				tables[strings.ToLower(m[7])] = true
			}
		}
	}
	for table := range tables {
		if owners[table] == "" {
			t.Errorf("table %s has no owner: add it to owners, and its SQL to the owner's store", table)
		}
	}
	for table, owner := range owners {
		if !tables[table] {
			t.Errorf("%s is said to own %s, which the migrations do not make", owner, table)
		}
	}
}
