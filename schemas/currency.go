package schemas

import "strings"

// KnownCurrency reports whether code is an active ISO 4217 alphabetic code
// (upper case, as the schemas require). Funds and precious-metal codes (XAU,
// XDR, XTS, ...) are excluded: nobody pays an invoice in them, so seeing one
// means a producer bug.
func KnownCurrency(code string) bool {
	if len(code) != 3 {
		return false
	}
	_, ok := currencies[code]
	return ok
}

// currencies is ISO 4217 list one, active codes, as of 2024 (ZWG replaced ZWL,
// SLE replaced SLL, VES replaced VEF, both old codes kept while they still
// circulate in ledgers). A map because it is read on every event.
var currencies = func() map[string]struct{} {
	const list = `
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB
BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP
DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF
IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK
LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN
NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT
TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF
XPF YER ZAR ZMW ZWG ZWL`
	m := map[string]struct{}{}
	for _, c := range strings.Fields(list) {
		m[c] = struct{}{}
	}
	return m
}()

// MinorDigits is the number of decimals of code's minor unit (ISO 4217):
// 0 for JPY (amounts in yen), 3 for KWD (in fils), 2 for EUR and every
// code not listed here. Amounts are stored in minor units; this says how
// to show them in major units. Migration 0013's relance_minor_per_unit
// holds the same lists for the dashboards.
func MinorDigits(code string) int {
	switch code {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	}
	return 2
}
