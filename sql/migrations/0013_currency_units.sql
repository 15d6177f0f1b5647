-- relance_minor_per_unit returns how many minor units make one major unit
-- of an ISO 4217 currency: 1 for JPY (amounts are in yen), 1000 for KWD
-- (in fils), 100 for EUR and every code not listed. The dashboards divide
-- the stored minor units by it to show amounts in the selected currency;
-- they used to divide by 100 whatever the currency, so yen amounts read a
-- hundred times too small. The lists are schemas.MinorDigits' (a test
-- checks that the two agree on every known code).
--
-- Re-runnable: CREATE OR REPLACE.
CREATE OR REPLACE FUNCTION relance_minor_per_unit AS (currency) -> multiIf(currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'), 1, currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND'), 1000, 100);
