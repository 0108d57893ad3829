"""A landscape research slide deck on microplastics in Baltic sediments (10 slides)."""

from __future__ import annotations

from collections.abc import Sequence

from .kit import MUTED, PALETTE, Sample

TITLE = "Microplastics in Coastal Sediments of the Baltic Sea"


def build() -> Sample:
    pdf = Sample("baltic-microplastics-slides.pdf", TITLE, orientation="landscape")
    pdf.set_auto_page_break(False)
    _title(pdf)
    _slide(
        pdf,
        "Why sediments?",
        bullets=[
            "Most plastic that enters the sea sinks: sediments are its long-term sink.",
            "The Baltic is shallow, semi-enclosed and renews its water only every 25-30 years.",
            "Earlier surveys counted floating particles only; the seabed was largely unmeasured.",
            "Question: how much microplastic (< 5 mm) lies in the top 5 cm, and where does it come from?",
        ],
    )
    _sites(pdf)
    _slide(
        pdf,
        "Methods",
        bullets=[
            "Sediment cores 0-5 cm, 3 replicates per site, taken from RV Aranda, May-June 2023.",
            "Density separation in saturated NaCl solution (1.2 g/cm3), then H2O2 digestion of "
            "organic matter.",
            "Particles > 50 um identified by FTIR spectroscopy; fibres counted under the microscope.",
            "Blanks and cotton lab coats at every step to control airborne contamination.",
        ],
    )
    pdf.ask("How were the polymer types of the particles identified?", "FTIR spectroscopy")
    _by_site(pdf)
    _polymers(pdf)
    _trend(pdf)
    _shapes(pdf)
    _slide(
        pdf,
        "Conclusions",
        bullets=[
            "Microplastics were found at all 12 sites: 85 to 1,240 particles per kg of dry sediment.",
            "Concentrations are highest near river mouths and ports; the Vistula plume stands out.",
            "Fibres dominate the upper centimetre, fragments dominate deeper layers.",
            "Recommendation: monitor sediments every 3 years at the 12 reference sites of this survey.",
        ],
    )
    pdf.ask("How often should the sediment reference sites be monitored?", "every 3 years")
    _slide(
        pdf,
        "Acknowledgements",
        bullets=[
            "Funded by the Nordic Marine Fund, grant NMF-2021-077.",
            "Ship time: Finnish Meteorological Institute, RV Aranda.",
            "FTIR analyses: Polymer Lab, University of Gdansk.",
            "Contact: mara.lindqvist@coastal-research.example",
        ],
    )
    pdf.ask("Which fund financed the Baltic microplastics survey?", "Nordic Marine Fund")
    return pdf


def _frame(pdf: Sample, title: str) -> None:
    pdf.add_page()
    pdf.set_fill_color(16, 52, 84)
    pdf.rect(0, 0, pdf.w, 24, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("Helvetica", "B", 22)
    pdf.set_xy(14, 6)
    pdf.cell(0, 12, title)
    pdf.set_text_color(30, 30, 30)
    pdf.set_y(34)


def _slide(pdf: Sample, title: str, bullets: Sequence[str]) -> None:
    _frame(pdf, title)
    pdf.set_font("Helvetica", "", 17)
    for text in bullets:
        pdf.set_x(22)
        pdf.set_fill_color(*PALETTE[0])
        pdf.rect(16, pdf.get_y() + 3, 3, 3, style="F")
        pdf.multi_cell(pdf.w - 44, 9, text, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(5)


def _title(pdf: Sample) -> None:
    pdf.add_page()
    pdf.set_fill_color(16, 52, 84)
    pdf.rect(0, 0, pdf.w, pdf.h, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_xy(20, 60)
    pdf.set_font("Helvetica", "B", 30)
    pdf.multi_cell(pdf.w - 40, 14, TITLE, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(20)
    pdf.set_font("Helvetica", "", 18)
    pdf.cell(0, 12, "Results of the 2023 sediment survey at 12 sites", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(20)
    pdf.set_font("Helvetica", "", 14)
    pdf.cell(
        0, 10, "Dr. Mara Lindqvist, Institute for Coastal Research, Stockholm", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_x(20)
    pdf.cell(0, 10, "Baltic Science Days, Helsinki, 14 November 2024")
    pdf.set_text_color(30, 30, 30)
    pdf.ask("Who presented the Baltic sediment survey?", "Dr. Mara Lindqvist")


SITES = [
    ("Gdansk Bay", 1240),
    ("Szczecin Lagoon", 960),
    ("Riga Gulf", 610),
    ("Kiel Bight", 540),
    ("Stockholm archipelago", 480),
    ("Gulf of Finland", 455),
    ("Arkona Basin", 300),
    ("Bornholm Deep", 270),
    ("Gotland Deep", 190),
    ("Aland Sea", 160),
    ("Bothnian Sea", 120),
    ("Bothnian Bay", 85),
]


def _sites(pdf: Sample) -> None:
    _frame(pdf, "Study sites")
    # A stylised coastline and the twelve sites, sized by concentration.
    pdf.set_draw_color(*MUTED)
    pdf.set_line_width(0.6)
    coast = [
        (30, 180),
        (45, 150),
        (40, 120),
        (60, 95),
        (70, 60),
        (95, 40),
        (120, 45),
        (135, 70),
        (130, 110),
        (150, 140),
        (175, 150),
        (190, 175),
    ]
    pdf.polyline(coast)
    for i, (name, value) in enumerate(SITES):
        x, y = 60 + (i % 4) * 30, 70 + (i // 4) * 35
        pdf.set_fill_color(*PALETTE[3])
        pdf.circle(x, y, 1.5 + value / 250, style="F")
        pdf.set_font("Helvetica", "", 8)
        pdf.text(x - 10, y + 8, name)
    pdf.set_xy(205, 40)
    pdf.set_font("Helvetica", "", 13)
    pdf.multi_cell(
        75,
        7,
        "12 sites from the Bothnian Bay in the north to the Szczecin Lagoon in the south. Circle "
        "size shows particles per kg of dry sediment.",
        align="L",
    )


def _by_site(pdf: Sample) -> None:
    _frame(pdf, "Concentration by site")
    short = [
        "Gdansk",
        "Szczecin",
        "Riga",
        "Kiel",
        "Stockh.",
        "G.Finl.",
        "Arkona",
        "Bornh.",
        "Gotl.",
        "Aland",
        "Both.S",
        "Both.B",
    ]
    pdf.bar_chart(20, 45, 190, 110, short, [v for _, v in SITES], color=PALETTE[3])
    pdf.set_xy(218, 50)
    pdf.set_font("Helvetica", "", 13)
    pdf.multi_cell(
        65,
        7,
        "Particles per kg dry sediment. Highest: Gdansk Bay with 1,240, at the mouth of the "
        "Vistula. Lowest: Bothnian Bay with 85.",
        align="L",
    )
    pdf.ask("Which Baltic site had the highest microplastic concentration?", "Gdansk Bay with 1,240")


def _polymers(pdf: Sample) -> None:
    _frame(pdf, "Polymer types")
    names = ["Polyethylene", "Polypropylene", "Polystyrene", "PET", "Polyamide", "Other"]
    shares = [38, 24, 12, 9, 7, 10]
    y = 45.0
    for i, (name, share) in enumerate(zip(names, shares, strict=True)):
        pdf.set_font("Helvetica", "", 14)
        pdf.text(20, y + 7, name)
        pdf.set_fill_color(*PALETTE[i % len(PALETTE)])
        pdf.rect(75, y, share * 4.5, 10, style="F")
        pdf.text(78 + share * 4.5, y + 7, f"{share}%")
        y += 17
    pdf.set_xy(20, y + 5)
    pdf.set_font("Helvetica", "", 14)
    pdf.multi_cell(
        250,
        8,
        "Polyethylene was the most common polymer (38% of identified particles), mostly from packaging "
        "films; polypropylene followed with 24%, much of it from fishing ropes.",
        align="L",
    )
    pdf.ask(
        "Which polymer was the most common in the Baltic sediment samples?",
        "Polyethylene was the most common",
    )


def _trend(pdf: Sample) -> None:
    _frame(pdf, "Trend 2015-2023")
    years = ["2015", "2017", "2019", "2021", "2023"]
    pdf.line_chart(
        40,
        45,
        170,
        100,
        years,
        {
            "Gdansk Bay": [720, 850, 980, 1110, 1240],
            "Kiel Bight": [410, 450, 470, 520, 540],
            "Bothnian Bay": [60, 70, 75, 80, 85],
        },
    )
    pdf.set_font("Helvetica", "", 13)
    pdf.set_x(40)
    pdf.multi_cell(
        220,
        7,
        "At the three sites sampled since 2015, concentrations rose every survey; in Gdansk Bay they "
        "increased by 72 percent in eight years.",
        align="L",
    )
    pdf.ask("By how much did microplastic concentrations in Gdansk Bay rise since 2015?", "72 percent")


def _shapes(pdf: Sample) -> None:
    _frame(pdf, "Fibres and fragments by depth")
    pdf.set_font("Helvetica", "", 13)
    pdf.grid(
        [
            ["Layer", "Fibres", "Fragments", "Films", "Beads"],
            ["0-1 cm", "54%", "28%", "14%", "4%"],
            ["1-3 cm", "41%", "39%", "16%", "4%"],
            ["3-5 cm", "29%", "52%", "15%", "4%"],
        ],
        size=13,
    )
    pdf.para("Mean over all 12 sites, share of particle count.", size=12)
