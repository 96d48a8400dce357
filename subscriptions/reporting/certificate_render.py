"""The certificate's three formats and their RFC 9530 digest.

- html: templates/reporting/certificate.html, standalone (inline styles, no scripts).
- pdf: that HTML printed by WeasyPrint. A PDF cannot contain its own digest, so the PDF prints
  the SHA-256 of the HTML it was made from and carries that exact HTML inside it as the
  attachment `certificate.html`: extract it (`pdfdetach -save 1`, or any PDF reader) and its
  SHA-256 is the one printed. The `Repr-Digest` header of the answer covers the PDF bytes.
- csv: one row per entry, the phone on every row, formulas defused.
"""

import base64
import csv
import hashlib
import io

from django.http import HttpResponse
from django.template.loader import render_to_string

from subscriptions.reporting.certificate import CSV_FIELDS, Certificate, Entry

FORMATS = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
ATTACHMENT_NAME = "certificate.html"
CERTIFICATE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def sha256_b64(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def repr_digest(body: bytes) -> str:
    """The RFC 9530 Repr-Digest field value of `body`."""
    return f"sha-256=:{sha256_b64(body)}:"


def _rows(cert: Certificate, entries: list[Entry]):
    for e in entries:
        yield {
            "at": cert.local(e.at),
            "entry": e,
            "details": cert.facts(e),
        }


def render_html(cert: Certificate, *, html_digest: str = "") -> bytes:
    context = {
        "cert": cert,
        "exported_at": cert.local(cert.exported_at),
        "states": list(_rows(cert, cert.states)),
        "stops": list(_rows(cert, cert.stops)),
        "revocations": list(_rows(cert, cert.revocations)),
        "timeline": list(_rows(cert, cert.timeline)),
        "html_digest": html_digest,
    }
    return render_to_string("reporting/certificate.html", context).encode("utf-8")


def render_pdf(cert: Certificate) -> bytes:
    # weasyprint is heavy (Pango, fonts); loaded on the first PDF only.
    from weasyprint import HTML, Attachment

    source = render_html(cert)
    printed = render_html(cert, html_digest=sha256_b64(source))
    return HTML(string=printed.decode("utf-8")).write_pdf(
        attachments=[Attachment(string=source, name=ATTACHMENT_NAME, base_url=".")]
    )


def defuse(value: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP)."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_csv(cert: Certificate) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["phone", "at", "time_zone", *CSV_FIELDS])
    for e in [*cert.states, *cert.stops, *cert.revocations, *cert.timeline]:
        details = "; ".join(f"{label}: {value}" for label, value in cert.facts(e))
        values = [getattr(e, name) for name in CSV_FIELDS[:-1]]
        # The phone (E.164, validated) and the time are the portal's own: written as is.
        writer.writerow(
            [cert.phone, cert.local(e.at), cert.time_zone_name, *map(defuse, [*values, details])]
        )
    return out.getvalue().encode("utf-8")


def render(cert: Certificate, fmt: str) -> bytes:
    if fmt == "pdf":
        return render_pdf(cert)
    if fmt == "csv":
        return render_csv(cert)
    return render_html(cert)


def filename(cert: Certificate, fmt: str) -> str:
    return f"consent-certificate-{cert.phone.lstrip('+')}.{fmt}"


def certificate_response(cert: Certificate, fmt: str) -> HttpResponse:
    """The certificate as an HTTP answer with its Repr-Digest (over the exact body sent)."""
    body = render(cert, fmt)
    response = HttpResponse(body, content_type=FORMATS[fmt])
    response["Repr-Digest"] = repr_digest(body)
    disposition = "inline" if fmt == "html" else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename(cert, fmt)}"'
    response["Cache-Control"] = "no-store"
    # The HTML is a standalone document (its styles inline, so a saved copy looks the same);
    # it runs no script and loads nothing.
    response["Content-Security-Policy"] = CERTIFICATE_CSP
    return response


def exported_by(user) -> str:
    name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    username = user.get_username()
    return f"{name} ({username})" if name and name != username else username
