package schemas_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/relance-io/relance/schemas"
)

func ExampleSerde() {
	reg := srfake.New() // in production: the Confluent-compatible registry URL
	defer reg.Close()
	client, _ := sr.NewClient(sr.URLs(reg.URL()))

	serde, err := schemas.NewSerde(context.Background(), client)
	if err != nil {
		panic(err)
	}
	value, _ := serde.EncodePayment(&schemas.Payment{
		EventID: "evt-1", PaymentID: "pay-1", CustomerID: "cust-7",
		PaidAt: time.Date(2024, 3, 20, 15, 0, 0, 0, time.UTC), Method: "transfer", Currency: "EUR",
		Allocations: []schemas.Allocation{{InvoiceID: "inv-42", AmountMinor: 12000}},
	})

	p, err := serde.DecodePayment(value)
	fmt.Println(p.PaymentID, p.Allocations, err)
	fmt.Println(p.Validate(time.Date(2024, 3, 21, 0, 0, 0, 0, time.UTC)))

	_, err = serde.DecodeReminder(value) // a payment on the reminders topic
	var de *schemas.DecodeError
	if errors.As(err, &de) {
		fmt.Println(de.Reason, errors.Is(err, schemas.ErrWrongSchema))
	}
	// Output:
	// pay-1 [{inv-42 12000}] <nil>
	// <nil>
	// wrong_schema true
}
