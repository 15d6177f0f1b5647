package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// labels are the report's words, per language. Keys missing in a language
// fall back to the key itself (a test checks none is missing).
var labels = map[string]map[string]string{
	"fr": {
		"title":        "Impact des relances sur les encaissements",
		"subtitle":     "Rapport hors ligne généré par relance à partir des requêtes KPI nommées",
		"generated":    "Généré le",
		"tz":           "Fuseau horaire des mois",
		"period":       "Période",
		"latest_month": "dernier mois complet",
		"whole_period": "Toute la période",
		"horizon":      "Horizon",
		"horizon_days": "Horizon %s",
		"days_n":       "%s jours",
		"day_1":        "1 jour",
		"horizon_pick": "Période d'observation après relance",
		"tiles":        "Indicateurs clés",
		"tiles_note":   "Grand chiffre : %s (%s). Petit chiffre : toute la période (%s).",
		"colon":        " :",
		"k_rate":       "Taux d'encaissement post-relance",
		"k_share":      "Part des encaissements liés à une relance",
		"k_reminded":   "Montants relancés",
		"k_collected":  "Encaissé sur les relances du mois",
		"invoices":     "factures",
		"reminders":    "relances",
		"payments":     "paiements",
		"invoice":      "facture",
		"reminder":     "relance",
		"payment":      "paiement",
		"allocations":  "imputations",
		"dependency":   "Encaissements avec et sans relance, par mois de paiement",
		"after":        "Encaissé après relance",
		"without":      "Encaissé sans relance",
		"total":        "Total encaissé",
		"share":        "Part liée à une relance",
		"month":        "Mois",
		"reminded":     "Relancé",
		"collected":    "Encaissé après relance",
		"rate":         "Taux",
		"by":           "Par %s",
		"charts_note":  "Barres : montants relancés (gris) et encaissés après relance (couleur de performance) par mois d'envoi ; ligne : taux d'encaissement (échelle de droite). Pastille : performance sur toute la période.",
		"table":        "Taux par mois et par %s",
		"table_note":   "Cellule : taux d'encaissement, factures relancées et montant relancé. Couleur : performance par rapport au taux de tous les segments du mois.",
		"good":         "Au-dessus du taux global",
		"average":      "Proche du taux global",
		"poor":         "En dessous du taux global",
		"small":        "Trop peu de factures pour juger",
		"legend":       "Couleur de performance",
		"ranking":      "Classement par %s (toute la période)",
		"rank":         "Rang",
		"latest_rate":  "Taux en %s",
		"incomplete":   "%s (incomplet)",
		"data_starts":  "%s (début des données)",
		"uplift":       "Effet des relances : groupe témoin (holdout), par niveau",
		"uplift_note":  "Part du montant dû payée dans l'horizon après une relance envoyée, comparée aux relances prévues mais volontairement non envoyées (groupe témoin). Toute la période. Ces taux comptent tout paiement de la facture dans l'horizon, qu'une autre relance en ait le crédit ou non : ils ne se comparent pas au taux d'encaissement post-relance (montants crédités). Le gain n'est pas un test statistique : avec peu de relances témoins, il n'est qu'indicatif.",
		"sent":         "Relances envoyées",
		"withheld":     "Relances non envoyées (témoin)",
		"sent_rate":    "Taux (envoyées)",
		"holdout_rate": "Taux (témoin)",
		"uplift_col":   "Gain",
		"dtp":          "Délai de paiement après relance",
		"dtp_note":     "Délai entre l'envoi de la relance créditée et le paiement, par mois d'envoi : médiane (p50) et 9e décile (p90), au plus l'horizon. Imputations : la part d'un paiement affectée à une facture.",
		"no_data":      "Aucune donnée pour cet horizon.",
		"overall":      "Tous segments",
		"h_payments":   "Paiements", "h_invoices": "Factures", "h_reminders": "Relances", "h_allocations": "Imputations",
		"footnotes":            "Notes de lecture",
		"fn_rate":              "Taux d'encaissement post-relance = montants encaissés après relance ÷ montants relancés, par mois d'envoi de la relance (cohorte). Une facture relancée plusieurs fois dans un mois et un segment n'est comptée qu'une fois, au montant dû de sa première relance. Sur toute la période, les cohortes mensuelles sont additionnées.",
		"fn_share":             "Part des encaissements liés à une relance = encaissé après relance ÷ total encaissé, par mois de paiement. Un paiement est « après relance » s'il suit une relance envoyée sur la même facture dans l'horizon. Ce montant, compté par mois de paiement, diffère de l'encaissé sur les relances du mois des indicateurs clés, compté par mois d'envoi des relances.",
		"fn_without":           "« Encaissé sans relance » est un montant par mois de paiement : un paiement sans relance n'a pas de canal, de niveau ni d'expéditeur. Il figure donc dans le graphique des encaissements par mois de paiement, et non dans les graphiques par segment, qui montrent pour chaque segment le relancé, l'encaissé après relance et le taux.",
		"fn_colour":            "Couleur de performance : vert si le taux du segment dépasse d'au moins %s (en valeur relative : 22 %% contre 20 %% dépasse de 10 %%) le taux de tous les segments de la même dimension sur le même mois, rouge s'il lui est inférieur d'au moins %s, orange entre les deux ; gris sous %d factures relancées. Une facture relancée dans deux segments (par exemple par e-mail puis par SMS) compte dans chacun de ces taux ; la colonne « Tous segments » la compte une fois par mois, comme les indicateurs clés.",
		"fn_month":             "Le dernier mois complet est le mois précédant le dernier mois où figurent des relances ou des paiements ; les relances de fin de mois n'ont pas encore eu tout leur horizon si les données s'arrêtent peu après. Les mois qui le suivent sont marqués « (incomplet) ». Le premier mois de paiements est marqué « (début des données) » : ses paiements peuvent suivre des relances envoyées avant le début des données, et comptent alors « sans relance ».",
		"fn_holdout":           "Les relances du groupe témoin ne sont jamais créditées et ne comptent pas dans les montants relancés.",
		"fn_dpd":               "Jours après échéance : à la date d'envoi de la relance. Une tranche « 30–60 jours » va de 30 jours inclus à 60 exclus ; « Avant échéance » : relance envoyée avant la date d'échéance.",
		"fn_horizon":           "Horizon : nombre de jours après l'envoi d'une relance pendant lesquels un paiement de la facture peut lui être attribué. Quand plusieurs relances de la facture précèdent le paiement dans l'horizon, le modèle d'attribution configuré répartit le crédit (par défaut, la plus récente reçoit tout : « dernier contact »).",
		"seg_":                 "(non renseigné)",
		"seg_email":            "E-mail",
		"seg_sms":              "SMS",
		"seg_phone":            "Téléphone",
		"seg_letter":           "Courrier",
		"seg_final":            "Mise en demeure",
		"seg_not_final":        "Autres relances",
		"seg_preventive":       "Avant échéance",
		"seg_level":            "Niveau %s",
		"seg_level_0":          "Préventive",
		"seg_dpd":              "%s jours",
		"dim_channel":          "canal",
		"dim_level":            "niveau de relance",
		"dim_dpd_bucket":       "jours après échéance",
		"dim_sender":           "expéditeur",
		"dim_plan":             "plan de relance",
		"dim_final_notice":     "mise en demeure",
		"dim_customer_segment": "segment client",
		"dim_country":          "pays",
		"dim_business_unit":    "activité",
		"currency":             "Devise",
		"contents":             "Sommaire",
	},
	"en": {
		"title":        "Impact of reminders on collections",
		"subtitle":     "Offline report generated by relance from the named KPI queries",
		"generated":    "Generated on",
		"tz":           "Time zone of the months",
		"period":       "Period",
		"latest_month": "latest complete month",
		"whole_period": "Whole period",
		"horizon":      "Horizon",
		"horizon_days": "Horizon %s",
		"days_n":       "%s days",
		"day_1":        "1 day",
		"horizon_pick": "Observation window after a reminder",
		"tiles":        "Key figures",
		"tiles_note":   "Large figure: %s (%s). Small figure: whole period (%s).",
		"colon":        ":",
		"k_rate":       "Post-reminder collection rate",
		"k_share":      "Share of collections after a reminder",
		"k_reminded":   "Amount reminded",
		"k_collected":  "Collected on the month's reminders",
		"invoices":     "invoices",
		"reminders":    "reminders",
		"payments":     "payments",
		"invoice":      "invoice",
		"reminder":     "reminder",
		"payment":      "payment",
		"allocations":  "allocations",
		"dependency":   "Collections with and without a reminder, by payment month",
		"after":        "Collected after reminder",
		"without":      "Collected without reminder",
		"total":        "Total collected",
		"share":        "Share after a reminder",
		"month":        "Month",
		"reminded":     "Reminded",
		"collected":    "Collected after reminder",
		"rate":         "Rate",
		"by":           "By %s",
		"charts_note":  "Bars: amount reminded (grey) and collected after reminder (performance colour) by month sent; line: collection rate (right scale). Badge: performance over the whole period.",
		"table":        "Rate by month and %s",
		"table_note":   "Cell: collection rate, invoices reminded and amount reminded. Colour: performance against the month's rate of all segments.",
		"good":         "Above the overall rate",
		"average":      "Close to the overall rate",
		"poor":         "Below the overall rate",
		"small":        "Too few invoices to judge",
		"legend":       "Performance colour",
		"ranking":      "Ranking by %s (whole period)",
		"rank":         "Rank",
		"latest_rate":  "Rate in %s",
		"incomplete":   "%s (incomplete)",
		"data_starts":  "%s (data starts)",
		"uplift":       "Reminder effect: holdout control group, by level",
		"uplift_note":  "Share of the amount due paid within the horizon after a reminder that was sent, against reminders scheduled but deliberately withheld (control group). Whole period. These rates count every payment on the invoice within the horizon, whichever reminder is credited with it: they do not compare with the post-reminder collection rate (credited amounts). The uplift is not a statistical test: with few control reminders it is only indicative.",
		"sent":         "Reminders sent",
		"withheld":     "Reminders withheld (control)",
		"sent_rate":    "Rate (sent)",
		"holdout_rate": "Rate (control)",
		"uplift_col":   "Uplift",
		"dtp":          "Days to pay after a reminder",
		"dtp_note":     "Time from the credited reminder to the payment, by month sent: median (p50) and 90th percentile (p90), at most the horizon. Allocations: the part of a payment applied to one invoice.",
		"no_data":      "No data for this horizon.",
		"overall":      "All segments",
		"h_payments":   "Payments", "h_invoices": "Invoices", "h_reminders": "Reminders", "h_allocations": "Allocations",
		"footnotes":            "How to read this report",
		"fn_rate":              "Post-reminder collection rate = amount collected after a reminder ÷ amount reminded, by month the reminder was sent (cohort). An invoice reminded several times in a month and segment counts once, at the amount due of its first reminder there. Over the whole period, monthly cohorts are added up.",
		"fn_share":             "Share of collections after a reminder = collected after a reminder ÷ total collected, by payment month. A payment is \"after a reminder\" when it follows a reminder sent on the same invoice within the horizon. This amount, counted by payment month, differs from the key figures' amount collected on the month's reminders, counted by the month the reminders were sent.",
		"fn_without":           "\"Collected without reminder\" is an amount per payment month: a payment with no reminder has no channel, level or sender. It is therefore shown in the chart of collections by payment month, not in the per-segment charts, which show each segment's amount reminded, amount collected after reminder and rate.",
		"fn_colour":            "Performance colour: green when the segment's rate is at least %s above (relatively: 22%% against 20%% is 10%% above) the rate of all segments of the same dimension in the same month, red when it is at least %s below it, amber in between; grey under %d invoices reminded. An invoice reminded in two segments (e.g. by e-mail, then by SMS) counts in each of those rates; the \"All segments\" column counts it once a month, as the key figures do.",
		"fn_month":             "The latest complete month is the month before the last month with reminders or payments; reminders sent at the end of a month have not had their full horizon if the data stops shortly after. The months after it are marked \"(incomplete)\". The first payment month is marked \"(data starts)\": its payments may follow reminders sent before the data starts, and then count as \"without reminder\".",
		"fn_holdout":           "Holdout (control group) reminders are never credited and are not counted in the amounts reminded.",
		"fn_dpd":               "Days past due: on the day the reminder was sent. A \"30–60 days\" bucket runs from 30 days included to 60 excluded; \"Before due date\": sent before the invoice's due date.",
		"fn_horizon":           "Horizon: the number of days after a reminder is sent during which a payment on its invoice can be credited to it. When several reminders on the invoice precede the payment within the horizon, the configured attribution model shares the credit (by default the latest one gets it all: \"last touch\").",
		"seg_":                 "(not set)",
		"seg_email":            "E-mail",
		"seg_sms":              "SMS",
		"seg_phone":            "Phone",
		"seg_letter":           "Letter",
		"seg_final":            "Final notice",
		"seg_not_final":        "Other reminders",
		"seg_preventive":       "Before due date",
		"seg_level":            "Level %s",
		"seg_level_0":          "Preventive",
		"seg_dpd":              "%s days",
		"dim_channel":          "channel",
		"dim_level":            "reminder level",
		"dim_dpd_bucket":       "days past due",
		"dim_sender":           "sender",
		"dim_plan":             "dunning plan",
		"dim_final_notice":     "final notice",
		"dim_customer_segment": "customer segment",
		"dim_country":          "country",
		"dim_business_unit":    "business unit",
		"currency":             "Currency",
		"contents":             "Contents",
	},
}

// L returns the label for key, or the key itself when there is none.
// Count renders n and the plural label key ("invoices"), singular for one
// (and, in French, for zero): "1 invoice", "0 facture", "2 invoices".
func (f fmtr) Count(n int64, key string) string {
	if n == 1 || (f.lang == "fr" && n == 0) {
		key = strings.TrimSuffix(key, "s")
	}
	return f.Int(n) + " " + f.L(key)
}

// HorizonText renders a horizon label for a reader: "7d" → "7 jours",
// "7 days"; other labels ("36h0m0s") as they are.
func (f fmtr) HorizonText(h string) string {
	n, ok := strings.CutSuffix(h, "d")
	if !ok || n == "" || strings.Trim(n, "0123456789") != "" {
		return h
	}
	if n == "1" {
		return f.L("day_1")
	}
	return fmt.Sprintf(f.L("days_n"), n)
}

// HorizonTitle is "Horizon 7 jours", "Horizon 7 days".
func (f fmtr) HorizonTitle(h string) string {
	return fmt.Sprintf(f.L("horizon_days"), f.HorizonText(h))
}

// Cap capitalizes the first letter of s.
func (f fmtr) Cap(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

func (f fmtr) L(key string) string {
	if s, ok := labels[f.lang][key]; ok {
		return s
	}
	return key
}

// Dim names a segment dimension: "canal", "channel"; an attribute key
// without a label is shown as is.
func (f fmtr) Dim(dim string) string {
	if s, ok := labels[f.lang]["dim_"+dim]; ok {
		return s
	}
	return strings.ReplaceAll(dim, "_", " ")
}

// Segment names a segment value of dim for a reader: "Téléphone",
// "Niveau 2", "30-60 jours", "Mise en demeure".
func (f fmtr) Segment(dim, v string) string {
	switch dim {
	case "level":
		if s, ok := labels[f.lang]["seg_level_"+v]; ok {
			return s
		}
		return strings.Replace(f.L("seg_level"), "%s", v, 1)
	case "dpd_bucket":
		if v == "preventive" {
			return f.L("seg_preventive")
		}
		return strings.Replace(f.L("seg_dpd"), "%s", strings.Replace(v, "-", "–", 1), 1)
	case "channel", "final_notice":
		if s, ok := labels[f.lang]["seg_"+v]; ok {
			return s
		}
	}
	if v == "" {
		return f.L("seg_")
	}
	return v
}
