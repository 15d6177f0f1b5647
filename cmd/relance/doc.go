// Command relance measures which payment reminders bring cash in: it joins
// reminder and payment events from Kafka in event time and writes
// attribution facts and KPIs to ClickHouse.
//
//	relance demo     run everything embedded on generated data and print KPIs
//	relance run      consume Kafka and write to ClickHouse (production)
//	relance migrate  create or upgrade the ClickHouse schema
//	relance query    run a named KPI query or SQL against the store
//	relance report   write the offline HTML report of the KPIs
//	relance config   check or print the configuration of run (check also
//	                 tries the registry and the brokers, unless --offline)
//	relance produce  generate a book and produce it to a real Kafka
//	relance import   import historical CSV exports into the Kafka topics
//	relance bench    measure the throughput of each stage
//
// Start order is store → stream → ingest; shutdown runs in reverse.
package main
