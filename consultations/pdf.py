"""The patient's copy as a PDF (WeasyPrint, as safety/exports/pdf_export.py makes its PDFs): the same content as the
page (consultations.patient_copy), laid out for paper. WeasyPrint is imported when a PDF is made (it loads pango)."""

from pathlib import Path

from django.template.loader import render_to_string

STYLESHEET = Path(__file__).with_name("patient_copy_pdf.css")


def patient_copy_pdf(copy: dict) -> bytes:
    from weasyprint import CSS, HTML

    html = render_to_string("consultations/patient_copy_pdf.html", {"copy": copy})
    return HTML(string=html).write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))])
