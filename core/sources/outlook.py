"""Outlook contacts CSV, in English and as localised Outlook writes it (German, French, Spanish, Italian, Dutch).

Outlook writes ``0/0/00`` (``0.0.00`` in German) for an empty birthday or anniversary: core.importing.dates reads
those as no date."""

from __future__ import annotations

from core.sources.base import TABLE_SUFFIXES, Source

SOURCE = Source(
    key="outlook",
    label="Outlook",
    upload_label="An Outlook contacts export (CSV)",
    files_name="Outlook exports",
    suffixes=TABLE_SUFFIXES,
    synonyms={
        "partner1_first": (
            "vorname", "prenom", "nombre", "nome", "voornaam",
        ),
        "partner1_last": (
            "nachname", "familienname", "nom", "nomdefamille", "apellidos", "apellido", "cognome", "achternaam",
        ),
        "partner1_email": (
            "emailadresse", "adressedemessagerie", "adresseemail", "adressecourriel", "courriel",
            "direcciondecorreoelectronico", "correoelectronico", "correo", "indirizzodipostaelettronica",
            "indirizzopostaelettronica", "indirizzoemail", "postaelettronica", "emailadres",
        ),
        "partner1_phone": (
            "mobiltelefon", "handy", "handynummer", "mobilnummer", "telephonemobile", "telmobile", "portable",
            "telefonomovil", "movil", "celular", "cellulare", "telefonocellulare", "mobieletelefoon", "mobiel",
            "mobielnummer", "telefon", "telefonnummer", "telefonprivat", "telephonedomicile", "telefono",
            "telefonoparticular", "telefonoabitazione", "telefoon", "telefoonnummer", "telefoonthuis",
        ),
        "partner2_name": (
            "ehepartner", "ehepartnerin", "conjoint", "conjointe", "conyuge", "coniuge", "echtgenoot", "echtgenote",
        ),
        "wedding_date": (
            "hochzeitsdatum", "hochzeitstag", "hochzeit", "jahrestag", "datedumariage", "datedemariage",
            "anniversairedemariage", "mariage", "fechadeboda", "fechadelaboda", "boda", "aniversario",
            "datamatrimonio", "datadelmatrimonio", "matrimonio", "anniversario", "trouwdatum", "huwelijksdatum",
            "trouwdag", "bruiloft", "jubileum",
        ),
        "notes": ("notizen", "notiz", "bemerkungen", "remarques", "notas", "note", "notities", "opmerkingen"),
    },
    preset={
        "partner1_first": ("firstname", "vorname", "prenom", "nombre", "nome", "voornaam"),
        "partner1_last": ("lastname", "nachname", "nom", "apellidos", "cognome", "achternaam"),
        "partner1_email": ("emailaddress", "emailadresse", "adressedemessagerie", "direcciondecorreoelectronico",
                           "indirizzodipostaelettronica", "emailadres"),
        "partner1_phone": ("mobilephone", "mobiltelefon", "telephonemobile", "telefonomovil", "cellulare",
                           "mobieletelefoon", "primaryphone", "haupttelefon", "homephone", "telefonprivat",
                           "businessphone", "telefongeschaftlich"),
        "partner2_name": ("spouse", "partner", "ehepartner", "conjoint", "conyuge", "coniuge", "echtgenoot"),
        "wedding_date": ("anniversary", "jahrestag", "hochzeitsdatum", "aniversario", "anniversario", "jubileum"),
        "notes": ("notes", "notizen", "notas", "note", "notities"),
        # An Outlook contact's Location is an office, its Categories and Birthday are not the wedding's.
        # "Other Phone" is the same person's, not a partner's.
        "": ("location", "ort", "categories", "kategorien", "birthday", "geburtstag", "otherphone",
             "weiterestelefon", "email2address",
             "email3address", "email2adresse", "email3adresse"),
    },
    signatures=(
        frozenset({"emailaddress", "email2address"}),
        frozenset({"emailaddress", "businessphone"}),
        frozenset({"vorname", "nachname", "emailadresse"}),
        frozenset({"prenom", "adressedemessagerie"}),
        frozenset({"nombre", "apellidos"}),
        frozenset({"nome", "cognome"}),
        frozenset({"voornaam", "achternaam"}),
    ),
)  # fmt: skip
