"""Client export over real HTTP: streamed (first bytes before the last rows are even read), bounded server memory,
spreadsheet formulas neutralised in CSV, NDJSON with the raw values, and only the signed-in supplier's clients."""

from __future__ import annotations

import csv
import io
import json
import socket

import httpx
import psutil
import psycopg

from tests.fixtures import Account, Server, Services, seed_clients, signup

ROWS = 50_000
SEED = """
INSERT INTO clients (supplier_id, source, external_id, partner1_first, partner1_last, partner1_email, partner1_phone,
                     partner2_first, partner2_last, wedding_date, venue, status)
SELECT %(sid)s, 'csv', 'e' || i, 'Guest' || i, 'Family' || (i %% 5000), 'guest' || i || '@example.com',
       '+447700' || lpad(i::text, 6, '0'), 'Partner' || (i %% 700), 'Jones', date '2026-05-01' + (i %% 300),
       'The Old Barn at Venue ' || (i %% 300), 'booked'
FROM generate_series(1, %(n)s) AS i
"""
FORMULAS = {
    "partner1_first": '=HYPERLINK("http://evil.example","Click")',
    "partner1_last": "+cmd|' /C calc'!A0",
    "partner2_first": "-2+3",
    "partner2_last": "@SUM(A1:A9)",
    "venue": "\tTabbed Hall",
}


def seed(database_url: str, supplier_id: int, n: int) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(SEED, {"sid": supplier_id, "n": n})


def stream_client(account: Account) -> httpx.Client:
    """The account's cookies, on a connection with a small receive window (64 KB instead of Linux's autotuned
    megabytes) and no gzip, so the server cannot run ahead of a reader that stops reading."""
    cookies = account.client.get("/clients/").request.headers["cookie"]  # the session, as the browser sends it
    transport = httpx.HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 65_536)])
    return httpx.Client(
        base_url=str(account.client.base_url),
        transport=transport,
        headers={
            "cookie": cookies,
            "accept-encoding": "identity",
        },
        timeout=httpx.Timeout(10, read=60),
    )


def test_csv_export_streams_in_bounded_memory(server: Server, services: Services, account: Account) -> None:
    seed(services.database_url, account.supplier_id, ROWS)
    seed_clients(services.database_url, account.supplier_id, [FORMULAS])
    other = signup(server.url, services.database_url, name="Other Studio")
    seed_clients(services.database_url, other.supplier_id, [{"partner1_first": "Secretive", "partner1_last": "Rival"}])
    web = psutil.Process(server.process.pid)
    baseline = web.memory_info().rss
    peak = baseline

    with stream_client(account) as client, client.stream("GET", "/clients/export.csv") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"].startswith('attachment; filename="clients-')
        assert "content-length" not in response.headers  # chunked: the size is not known up front
        chunks = response.iter_bytes()
        head = b""
        while b"\n" not in head:
            head += next(chunks)
        # The first bytes are here. A client added now sorts after everyone else: it is in the file only if the
        # server had not yet read the last rows, i.e. the body is produced as it is sent, not built up front.
        seed_clients(
            services.database_url, account.supplier_id, [{"partner1_first": "Zz", "partner1_last": "Latecomer"}]
        )
        body = bytearray(head)
        for chunk in chunks:
            body += chunk
            peak = max(peak, web.memory_info().rss)

    text = body.decode("utf-8")
    assert text.startswith("\ufeffClient ID,Partner 1 first name,")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    header, data = rows[0], rows[1:]
    assert len(data) == ROWS + 2
    assert data[-1][1:3] == ["Zz", "Latecomer"], "the export was built before it was sent"
    assert not any("Secretive" in row[1] for row in data)
    formula_row = next(row for row in data if row[header.index("Partner 2 last name")] == "'@SUM(A1:A9)")
    assert formula_row[header.index("Partner 1 first name")] == "'" + FORMULAS["partner1_first"]
    assert formula_row[header.index("Partner 1 last name")] == "'" + FORMULAS["partner1_last"]
    assert formula_row[header.index("Partner 2 first name")] == "'-2+3"
    assert formula_row[header.index("Venue")] == "'\tTabbed Hall"
    # Body is ~10 MB; the server holds one page of 2,000 rows at a time.
    growth_mb = (peak - baseline) / 1e6
    assert growth_mb < 25, f"web process grew by {growth_mb:.1f} MB during a {len(body) / 1e6:.1f} MB export"


def test_ndjson_export_keeps_raw_values_and_is_tenant_scoped(
    server: Server, services: Services, account: Account
) -> None:
    seed(services.database_url, account.supplier_id, 2_500)  # more than one page
    seed_clients(services.database_url, account.supplier_id, [FORMULAS])
    other = signup(server.url, services.database_url, name="Other Studio")
    seed_clients(services.database_url, other.supplier_id, [{"partner1_first": "Secretive", "partner1_last": "Rival"}])

    response = account.client.get("/clients/export.ndjson")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in response.text.splitlines()]
    assert len(records) == 2_501
    assert len({r["id"] for r in records}) == 2_501
    formula = next(r for r in records if r["venue"] == "\tTabbed Hall")
    assert formula["partner1_first"] == FORMULAS["partner1_first"]  # JSON is not a spreadsheet: no quoting
    assert formula["status"] == "lead"
    assert {"partner1_email", "wedding_date", "created_at"} <= formula.keys()
    assert "sort_name" not in formula
    assert not any(r["partner1_first"] == "Secretive" for r in records)
    assert other.client.get("/clients/export.ndjson").text.count("\n") == 1


def test_export_needs_sign_in_and_is_linked_from_the_clients_page(server: Server, account: Account) -> None:
    anonymous = httpx.get(server.url + "/clients/export.csv")
    assert anonymous.status_code in (302, 303)
    assert anonymous.headers["location"] == "/login"
    page = account.client.get("/clients/").text
    assert 'href="/clients/export.csv"' in page
    assert 'href="/clients/export.ndjson"' in page
