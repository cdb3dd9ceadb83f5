package firebreak_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/firebreak-go/firebreak"
)

// A failing disk check is the hardware group's; when the database's breaker
// opens with no fallback, the worse alert makes the incident the software
// group's.
func ExampleCategories() {
	board, _ := firebreak.NewBoard("checkout")
	board.Report(firebreak.Signal{Kind: firebreak.KindHealthFailed, Component: "checkout-api", Dependency: "payments-db",
		Tier: firebreak.Core, Firing: true, Summary: "disk 97% full"})
	inc := board.List(firebreak.Filter{})[0]
	fmt.Println(inc.Severity, inc.Category, "→", inc.Group)
	board.Report(firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout-api", Dependency: "payments-db",
		Tier: firebreak.Core, Firing: true})
	inc = board.List(firebreak.Filter{})[0]
	fmt.Println(inc.Severity, inc.Category, "→", inc.Group)
	// Output:
	// general hardware → hardware maintenance group
	// fatal software → software repair group
}

// Escalation steps may name a person or a role; the directory says who
// that is and how to reach them.
func ExampleDirectory_Resolve() {
	plan, err := firebreak.ParsePlan([]byte(`{"directory": [
		{"name": "Li Na", "role": "DBA on call", "skills": ["postgres"], "contact": "dba@example.com"},
		{"name": "Acme Storage", "role": "storage vendor", "contact": "support@acme.example", "vendor": true}]}`))
	if err != nil {
		panic(err)
	}
	for _, target := range []string{"postgres", "storage vendor", "Li Na"} {
		for _, c := range plan.Directory.Resolve(target) {
			fmt.Printf("%s: %s <%s> vendor=%v\n", target, c.Name, c.Contact, c.Vendor)
		}
	}
	// Output:
	// postgres: Li Na <dba@example.com> vendor=false
	// storage vendor: Acme Storage <support@acme.example> vendor=true
	// Li Na: Li Na <dba@example.com> vendor=false
}

// With "verify": true, a resolved incident closes only once the business
// owner has confirmed the fix.
func ExampleBoard_Verify() {
	plan, _ := firebreak.ParsePlan([]byte(`{"response": {"fatal": {"verify": true}}}`))
	board, _ := firebreak.NewBoard("checkout", firebreak.WithPlan(plan))
	board.Report(firebreak.Signal{Kind: firebreak.KindBreakerOpen, Component: "checkout-api", Dependency: "payments-db",
		Tier: firebreak.Core, Firing: true})
	id := board.List(firebreak.Filter{})[0].ID
	board.Resolve(id, "lead", "failed over")
	_, err := board.CloseWith(id, "lead", firebreak.ReportInput{})
	fmt.Println(errors.Is(err, firebreak.ErrNotVerified))
	board.Verify(id, "payments owner", "orders flow again")
	rep, err := board.CloseWith(id, "lead", firebreak.ReportInput{RootCause: "disk full"})
	fmt.Println(err, rep.VerifiedBy)
	// Output:
	// true
	// <nil> payments owner
}

// Closed incidents are written to a directory, and a new board — after a
// restart — reads them back.
func ExampleDirArchive() {
	dir, _ := os.MkdirTemp("", "archive")
	defer os.RemoveAll(dir)
	archive, _ := firebreak.DirArchive(dir)
	board, _ := firebreak.NewBoard("checkout", firebreak.WithArchive(archive))
	board.Start(context.Background())
	board.Report(firebreak.Signal{Kind: firebreak.KindLoadShed, Component: "gateway", Tier: firebreak.Standard, Firing: true})
	id := board.List(firebreak.Filter{})[0].ID
	board.Resolve(id, "engineer", "flood over")
	board.CloseWith(id, "engineer", firebreak.ReportInput{RootCause: "a crawler"})
	board.Close(context.Background()) // flushes the archive's queue
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		fmt.Println(filepath.Base(f))
	}

	restarted, _ := firebreak.NewBoard("checkout", firebreak.WithArchive(archive))
	rep, _ := restarted.IncidentReport(id)
	fmt.Println(rep.IncidentID, rep.Kind, rep.RootCause)
	// Output:
	// INC-0001.json
	// INC-0001.md
	// INC-0001 report-back a crawler
}
