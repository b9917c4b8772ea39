package db_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
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
	"accounts":                  "internal/ledger",
	"transfers":                 "internal/ledger",
	"offerings":                 "internal/offering",
	"consumption_days":          "internal/offering",
	"lnurl_auth_challenges":     "internal/offering",
	"wallet_keys":               "internal/offering",
	"invoices":                  "internal/funding",
	"lightning_cursors":         "internal/funding",
	"payouts":                   "internal/funding",
	"lnurl_withdrawals":         "internal/funding",
	"webhooks":                  "internal/hooks",
	"webhook_deliveries":        "internal/hooks",
	"webhook_attempts":          "internal/hooks",
	"site_secrets":              "internal/keys",
	"investment_terms":          "internal/invest",
	"investments":               "internal/invest",
	"revenue_events":            "internal/invest",
	"investment_withdraw_links": "internal/invest",
	"sponsorship_settings":      "internal/sponsor",
	"sponsor_bids":              "internal/sponsor",
	"sponsor_bid_invoices":      "internal/sponsor",
	"sponsor_periods":           "internal/sponsor",
	"demo_invoices":             "internal/lightning/demo",
}

// TestEachTableHasOneOwner reads the site's Go code (tests aside) and
// checks that SQL naming a table appears only in its owner's package, and
// that neither web nor main imports GORM or runs SQL on the handles they
// wire (they pass a *db.DB or a db.Tx at most).
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
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
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
				if owner := owners[table]; owner != pkg && pkg != owner+"/internal/store" && pkg != "internal/db" {
					t.Errorf("%s: SQL names %s, a table of %s", fset.Position(lit.Pos()), table, owner)
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
