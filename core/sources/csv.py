"""Any spreadsheet: the generic synonyms in core.importing.mapping, every other source's, and the words a
photographer's own spreadsheet uses in the languages we see most (German, French, Spanish, Italian, Dutch)."""

from __future__ import annotations

from core.sources.base import TABLE_SUFFIXES, Source

SOURCE = Source(
    key="csv",
    label="Spreadsheet",
    upload_label="A spreadsheet (CSV or tab-separated)",
    files_name="Spreadsheet uploads",
    suffixes=TABLE_SUFFIXES,
    synonyms={
        "partner1_name": ("braut", "mariee", "novia", "sposa", "bruid", "kunde", "kundin", "cliente", "klant"),
        "partner2_name": ("brautigam", "marie", "novio", "sposo", "bruidegom", "partnerin"),
        "couple_name": ("brautpaar", "paar", "couple", "pareja", "coppia", "sposi", "bruidspaar"),
        "venue": (
            "hochzeitslocation", "veranstaltungsort", "location", "lieu", "lieudumariage", "lieudelareception",
            "salle", "lugar", "lugardelaboda", "luogo", "locationmatrimonio", "locatie", "trouwlocatie",
        ),
        "status": ("statut", "estado", "stato"),
        "lead_source": ("quelle", "herkunft", "fuente", "fonte", "bron", "provenance"),
        "inquiry_date": ("anfragedatum", "anfrage", "datedemande", "fechadesolicitud", "datarichiesta",
                         "aanvraagdatum"),
        "booking_date": ("buchungsdatum", "gebuchtam", "datedereservation", "fechadereserva",
                         "dataprenotazione", "boekingsdatum"),
        "external_id": ("kundennummer", "nummer", "numero", "referencia", "riferimento", "referentie"),
    },
)  # fmt: skip
