//! The words printed on a sheet, in the profile's language (`sheets.language`).

use crate::print::Language;

/// The words of a sheet in `language`.
pub fn labels_of(language: Language) -> &'static Labels {
    match language {
        Language::English => &ENGLISH,
        Language::French => &FRENCH,
    }
}

pub struct Labels {
    pub title: &'static str,
    pub agency: &'static str,
    pub employee: &'static str,
    pub sheet_for: &'static str,
    pub data_as_of: &'static str,
    pub unknown: &'static str,
    pub page: &'static str,
    pub of: &'static str,
    pub visit: &'static str,
    pub client: &'static str,
    pub phone: &'static str,
    pub alerts: &'static str,
    pub no_alerts: &'static str,
    pub tasks: &'static str,
    pub no_tasks: &'static str,
    pub clock_in: &'static str,
    pub clock_out: &'static str,
    pub initials: &'static str,
    pub note: &'static str,
    pub continued: &'static str,
    pub no_visits: &'static str,
    /// Followed by the zone's name.
    pub rule_times: &'static str,
    pub rule_initial: &'static str,
    pub rule_return: &'static str,
    pub visits_here: &'static str,
}

static ENGLISH: Labels = Labels {
    title: "Downtime visit sheet",
    agency: "Agency",
    employee: "Employee",
    sheet_for: "Visits of",
    data_as_of: "Data as of",
    unknown: "unknown",
    page: "Page",
    of: "of",
    visit: "Visit",
    client: "Client",
    phone: "Phone",
    alerts: "ALLERGIES AND RISKS",
    no_alerts: "No allergies or risks on file.",
    tasks: "Tasks (tick when done)",
    no_tasks: "No tasks listed.",
    clock_in: "Clock in",
    clock_out: "Clock out",
    initials: "Initials",
    note: "Progress note",
    continued: "continued",
    no_visits: "No visits scheduled for these days.",
    rule_times: "All times are local",
    rule_initial: "Initial every visit.",
    rule_return: "Return this sheet to your coordinator.",
    visits_here: "Visit numbers on this page (for typing up)",
};

static FRENCH: Labels = Labels {
    title: "Feuille de visites (panne)",
    agency: "Agence",
    employee: "Employé(e)",
    sheet_for: "Visites du",
    data_as_of: "Données au",
    unknown: "inconnu",
    page: "Page",
    of: "sur",
    visit: "Visite",
    client: "Client(e)",
    phone: "Téléphone",
    alerts: "ALLERGIES ET RISQUES",
    no_alerts: "Aucune allergie ni aucun risque au dossier.",
    tasks: "Tâches (cocher une fois faites)",
    no_tasks: "Aucune tâche prévue.",
    clock_in: "Arrivée",
    clock_out: "Départ",
    initials: "Initiales",
    note: "Note d'évolution",
    continued: "suite",
    no_visits: "Aucune visite prévue ces jours-là.",
    rule_times: "Toutes les heures sont locales",
    rule_initial: "Paraphez chaque visite.",
    rule_return: "Remettez cette feuille à votre coordonnateur.",
    visits_here: "Numéros de visite de cette page (pour la saisie)",
};
