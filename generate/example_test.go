package generate_test

import (
	"fmt"

	"github.com/relance-io/relance/generate"
)

// Generate a quarter for 20 customers and follow one invoice: its reminders
// and the payments that settle it.
func ExampleGenerate() {
	p := generate.DefaultParams()
	p.Customers = 20
	p.Months = 3
	ds, err := generate.Generate(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	inv := ds.Invoices[0]
	fmt.Println(inv.InvoiceID, inv.CustomerID, inv.AmountMinor, inv.Currency, "due", inv.DueDate.Format("2006-01-02"))
	for _, r := range ds.Reminders {
		if r.InvoiceID == inv.InvoiceID {
			fmt.Println(" ", r.SentAt.Format("2006-01-02 15:04"), r.Channel, "level", r.Level, "due", r.AmountDueMinor, "holdout", r.Holdout)
		}
	}
	for _, pay := range ds.Payments {
		for _, a := range pay.Allocations {
			if a.InvoiceID == inv.InvoiceID {
				fmt.Println(" ", pay.PaidAt.Format("2006-01-02 15:04"), pay.Method, a.AmountMinor)
			}
		}
	}

	p.Customers = -3
	_, err = generate.Generate(p)
	fmt.Println(err)
	// Output:
	// INV-2026-000001 C00007 368499 EUR due 2026-02-04
	//   2026-01-30 07:13 email level 0 due 368499 holdout false
	//   2026-02-09 07:52 email level 1 due 368499 holdout false
	//   2026-02-11 12:39 transfer 368499
	// generate: customers: must be > 0, got -3
}
