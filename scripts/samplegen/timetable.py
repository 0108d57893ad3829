"""A city-transit timetable: network diagram, departure tables, fares (5 pages)."""

from __future__ import annotations

from .kit import PALETTE, Sample

NETWORK = "Riverton Metro Transit"

LINE1 = ["Harbour", "Fish Market", "Central Station", "Civic Centre", "Hospital", "Airport"]
LINE2 = ["University", "Museum Quarter", "Central Station", "Old Town", "Riverside Park"]


def build() -> Sample:
    pdf = Sample("riverton-transit-timetable.pdf", f"{NETWORK} - Timetable valid from 1 March 2025")
    _network(pdf)
    _line1(pdf)
    _line2(pdf)
    _night(pdf)
    _fares(pdf)
    return pdf


def _clock(minutes: int) -> str:
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def _departures(first: int, interval: int, count: int, offsets: list[int]) -> list[list[str]]:
    """Rows of clock times: one row per stop, one column per trip."""
    return [[_clock(first + trip * interval + off) for trip in range(count)] for off in offsets]


def _network(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading(NETWORK, size=24, space=1)
    pdf.heading("Network map and timetable - valid from 1 March 2025", size=13, space=6)
    top = pdf.get_y() + 10
    for color, stops, y, label in [
        (PALETTE[3], LINE1, top + 20, "Line 1"),
        (PALETTE[0], LINE2, top + 70, "Line 2"),
    ]:
        pdf.set_draw_color(*color)
        pdf.set_line_width(2.5)
        pdf.line(25, y, 185, y)
        pdf.set_line_width(0.4)
        pdf.set_font("Helvetica", "B", 10)
        pdf.text(25, y - 8, label)
        for i, stop in enumerate(stops):
            x = 25 + i * 160 / (len(stops) - 1)
            pdf.set_fill_color(255, 255, 255)
            pdf.circle(x, y, 2.6, style="DF")
            pdf.set_font("Helvetica", "", 8)
            pdf.text(x - 8, y + 8, stop)
    pdf.set_draw_color(120, 120, 120)
    pdf.dashed_line(89, top + 20, 89, top + 70, 2, 2)  # the interchange at Central Station
    pdf.set_line_width(0.2)
    pdf.set_y(top + 95)
    pdf.para(
        "Line 1 (red) runs from Harbour to the Airport. Line 2 (blue) runs from the University to Riverside "
        "Park. Both lines meet at Central Station, where you can change without leaving the platform area. "
        "Night bus N7 replaces the metro after midnight."
    )
    pdf.ask(
        "Where can I change between metro Line 1 and Line 2 in Riverton?",
        "Both lines meet at Central Station",
    )


def _line1(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Line 1 - Harbour to Airport - Monday to Friday")
    times = _departures(5 * 60 + 12, 12, 7, [0, 3, 7, 10, 14, 22])
    pdf.grid(
        [["Stop", *[f"Trip {i + 1}" for i in range(7)]]]
        + [[s, *t] for s, t in zip(LINE1, times, strict=True)]
    )
    pdf.para(
        "First train from Harbour at 05:12, then every 12 minutes until 09:00 and every 8 minutes in the "
        "morning peak. The journey from Harbour to the Airport takes 22 minutes."
    )
    pdf.ask(
        "When does the first Line 1 train leave Harbour on weekdays?", "First train from Harbour at 05:12"
    )


def _line2(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Line 2 - University to Riverside Park")
    pdf.subheading("Monday to Friday")
    weekday = _departures(5 * 60 + 40, 10, 7, [0, 4, 9, 12, 18])
    pdf.grid(
        [["Stop", *[f"Trip {i + 1}" for i in range(7)]]]
        + [[s, *t] for s, t in zip(LINE2, weekday, strict=True)]
    )
    pdf.subheading("Saturday, Sunday and public holidays")
    weekend = _departures(7 * 60 + 5, 20, 7, [0, 4, 9, 12, 18])
    pdf.grid(
        [["Stop", *[f"Trip {i + 1}" for i in range(7)]]]
        + [[s, *t] for s, t in zip(LINE2, weekend, strict=True)]
    )
    pdf.para("At weekends Line 2 starts at 07:05 and runs every 20 minutes all day.")
    pdf.ask("How often does Line 2 run at weekends?", "every 20 minutes all day")


def _night(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Night bus N7 and holiday service")
    stops = ["Central Station", "Old Town", "Civic Centre", "Hospital", "Harbour"]
    pdf.grid(
        [["Stop", "Fri & Sat nights", "", "", "", "Last bus"]]
        + [
            [stop, *[_clock(start + off) for start in (20, 65, 110, 155)], _clock(255 + off)]
            for stop, off in zip(stops, [0, 4, 9, 13, 21], strict=True)
        ]
    )
    pdf.para(
        "Night bus N7 runs on Friday and Saturday nights only, every 45 minutes from 00:20. The last "
        "N7 leaves "
        "Central Station at 04:15. Metro lines restart at 05:12."
    )
    pdf.subheading("Public holidays")
    pdf.bullets(
        [
            "On public holidays the Saturday timetable applies.",
            "On 24 and 31 December the last metro leaves Central Station at 20:30.",
            "No service on 25 December before 10:00.",
        ]
    )
    pdf.ask(
        "When does the last night bus N7 leave Central Station?",
        "The last N7 leaves Central Station at 04:15",
    )


def _fares(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Fares and tickets")
    pdf.grid(
        [
            ["Ticket", "Adult", "Reduced *", "Valid"],
            ["Single ride", "2.40", "1.40", "90 minutes, changes allowed"],
            ["Day pass", "7.50", "4.50", "Until 05:00 the next morning"],
            ["7-day pass", "24.00", "14.40", "7 consecutive days"],
            ["Monthly pass", "64.00", "38.40", "Calendar month"],
            ["Airport supplement", "3.00", "3.00", "Airport station only"],
        ],
        widths=(40, 20, 25, 65),
    )
    pdf.para(
        "* Reduced fares (40 percent off) apply to students, people over 65 and children aged 6 to 14. "
        "Children under 6 travel free. Prices in euros. Tap your bank card or phone at the gate: fares are "
        "capped at the price of a day pass."
    )
    pdf.ask("How much is a day pass on Riverton Metro?", "7.50")
