"""A travel-insurance claim form: labelled boxes, check boxes, an expense table (3 pages)."""

from __future__ import annotations

from .kit import Sample

INSURER = "Wayfarer Travel Insurance"


def build() -> Sample:
    pdf = Sample("wayfarer-travel-claim-form.pdf", f"{INSURER} - Claim Form TC-7")
    _page_one(pdf)
    _page_two(pdf)
    _page_three(pdf)
    return pdf


def _page_one(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading(f"{INSURER}", size=20, space=1)
    pdf.heading("Claim Form TC-7 - Trip cancellation, baggage, medical and delay claims", size=12)
    pdf.para(
        "Please complete this form in capital letters. Use one form per traveller. Incomplete forms delay "
        "the payment of your claim.",
        size=9.5,
    )
    pdf.section_bar("Section A - Policyholder")
    pdf.field_row([("Policy number", 0.35), ("Surname", 0.35), ("First name", 0.3)])
    pdf.field_row([("Date of birth (DD/MM/YYYY)", 0.35), ("Phone", 0.3), ("E-mail", 0.35)])
    pdf.field_row([("Street and house number", 0.6), ("Postcode", 0.15), ("Town", 0.25)])
    pdf.section_bar("Section B - Trip")
    pdf.field_row([("Destination", 0.4), ("Departure date", 0.3), ("Return date", 0.3)])
    pdf.field_row([("Booked with (travel agent or airline)", 0.6), ("Booking reference", 0.4)])
    pdf.section_bar("Section C - Type of claim (tick all that apply)")
    for left, right in [
        ("Trip cancellation or curtailment", "Lost, stolen or damaged baggage"),
        ("Medical expenses abroad", "Flight delay of more than 4 hours"),
        ("Missed connection", "Personal liability"),
    ]:
        pdf.set_x(pdf.l_margin)
        pdf.checkbox(left)
        pdf.set_x(pdf.l_margin + pdf.epw / 2)
        pdf.checkbox(right)
        pdf.ln(8)
    pdf.ln(2)
    pdf.para(
        "Flight delay: we pay a fixed EUR 40 for every full 4 hours of delay, up to EUR 400, if the airline "
        "confirms the delay in writing.",
        size=9.5,
    )
    pdf.ask("How much does the travel insurance pay for a flight delay?", "EUR 40 for every full 4 hours")


def _page_two(pdf: Sample) -> None:
    pdf.add_page()
    pdf.section_bar("Section D - What happened?")
    pdf.para("Describe the event: date, place, what happened and who was involved.", size=9.5)
    pdf.field_row([("Description", 1.0)], h=40)
    pdf.section_bar("Section E - Expenses claimed")
    rows = [["Date", "Description of expense", "Currency", "Amount", "Receipt no."]]
    rows += [["", "", "", "", ""] for _ in range(6)]
    pdf.grid(rows, widths=(22, 70, 20, 25, 25))
    pdf.section_bar("Section F - Medical claims only")
    pdf.field_row([("Name of doctor or hospital", 0.6), ("Date of first treatment", 0.4)])
    pdf.field_row([("Diagnosis", 1.0)])
    pdf.section_bar("Section G - Bank details for reimbursement")
    pdf.field_row([("Account holder", 0.5), ("Bank name", 0.5)])
    pdf.field_row([("IBAN", 0.7), ("BIC / SWIFT", 0.3)])
    pdf.para("We pay only into an account in the name of the policyholder.", size=9)
    pdf.ask("In which section of the claim form do I give my bank account for reimbursement?", "Section G")


def _page_three(pdf: Sample) -> None:
    pdf.add_page()
    pdf.section_bar("Section H - Documents to attach")
    pdf.bullets(
        [
            "Original receipts and invoices for every expense claimed (copies are not accepted).",
            "Theft or loss: a police report obtained within 24 hours of discovering the loss.",
            "Baggage: the airline's Property Irregularity Report (PIR) and the baggage tags.",
            "Cancellation: the booking confirmation and the cancellation invoice.",
            "Medical: a medical certificate stating the diagnosis and the dates of treatment.",
        ],
        size=9.5,
    )
    pdf.section_bar("Section I - Declaration")
    pdf.para(
        "I declare that the information given is true and complete. I authorise Wayfarer Travel Insurance to "
        "obtain information from doctors, airlines and the police about this claim. I understand "
        "that a false "
        "statement may void my policy.",
        size=9.5,
    )
    pdf.field_row([("Place and date", 0.4), ("Signature of policyholder", 0.6)], h=18)
    pdf.section_bar("How to send your claim")
    pdf.para(
        "Send the completed form within 30 days of your return, by e-mail to claims@wayfarer-insure.example "
        "or by post to Wayfarer Travel Insurance, Claims Department, PO Box 2207, 1000 Brussels, Belgium. "
        "Claims received later than 30 days after your return can be refused. Questions: +32 2 555 01 77.",
        size=9.5,
    )
    pdf.ask("How many days after my return do I have to send a travel insurance claim?", "within 30 days")
    pdf.ask("How soon must a theft be reported to the police for a baggage claim?", "within 24 hours")
