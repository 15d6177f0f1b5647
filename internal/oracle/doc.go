// Package oracle is the brute-force reading of SPEC §3 (matching) and §4
// (KPIs) that tests compare the pipeline, its SQL, the report and the
// dashboards with.
//
// It is written from the specification alone, independently of packages
// stream and sql (it imports neither): every allocation is compared with
// every reminder of its invoice, and nothing is incremental, windowed or
// clever. Only the last_touch model is implemented. Everything is
// recomputed on each call; the data sets tests use are small.
//
// It is test support: it must never be imported by non-test code.
package oracle
