"""A fictional company's annual report: letter, highlight tables, bar and line charts (10 pages)."""

from __future__ import annotations

from .kit import PALETTE, Sample

COMPANY = "Lumen Harbor Instruments"


def build() -> Sample:
    pdf = Sample("lumen-harbor-annual-report-2024.pdf", f"{COMPANY} - Annual Report 2024")
    _cover(pdf)
    _letter(pdf)
    _highlights(pdf)
    _regions(pdf)
    _quarters(pdf)
    _segments(pdf)
    _sustainability(pdf)
    _people(pdf)
    _outlook(pdf)
    _income_statement(pdf)
    return pdf


def _cover(pdf: Sample) -> None:
    pdf.add_page()
    pdf.set_fill_color(20, 60, 100)
    pdf.rect(0, 0, 210, 120, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_xy(18, 50)
    pdf.set_font("Helvetica", "B", 30)
    pdf.cell(0, 14, COMPANY, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 20)
    pdf.cell(0, 12, "Annual Report 2024", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(30, 30, 30)
    pdf.set_y(140)
    pdf.para(
        "Precision sensors for the sea, the sky and the harbour. Lumen Harbor Instruments designs and "
        "builds marine sensors, automatic weather stations and hydrographic survey systems, and runs "
        "calibration and field services for port authorities, shipping lines and research institutes in "
        "46 countries. Headquarters: Harbour Road 12, Bergen, Norway.",
        size=12,
    )


def _letter(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Letter from the Chief Executive Officer")
    pdf.columns(
        [
            "Dear shareholders, 2024 was the year in which Lumen Harbor grew faster than its markets. "
            "Revenue rose by 11 percent and, for the first time in our history, order intake exceeded "
            "half a billion euros. I want to thank our 2,140 colleagues for making this possible.",
            "Our most important investment was the new calibration plant in Aalborg, Denmark, which "
            "opened in September 2024. It triples our capacity to calibrate pressure and salinity sensors "
            "and cuts the turnaround time for customers in northern Europe from three weeks to five days.",
            "We also completed the acquisition of Skerry Data, a small software company whose tide "
            "prediction service is now part of our Services segment. The integration went smoothly and "
            "all twenty-two Skerry Data engineers stayed with us.",
            "Not everything went to plan. A shortage of radiation-hardened microcontrollers delayed "
            "deliveries of the WS-900 weather station by up to eleven weeks in the second quarter. We have "
            "since qualified a second supplier and rebuilt our safety stock.",
            "The Board proposes a dividend of EUR 1.10 per share, up from EUR 0.95. We remain committed to "
            "paying out between 35 and 45 percent of net income while keeping room to invest.",
            "Ingrid Solberg, Chief Executive Officer, Bergen, 4 March 2025",
        ]
    )
    pdf.ask("When did the new calibration plant in Aalborg open?", "opened in September 2024")
    pdf.ask("Which company did Lumen Harbor acquire in 2024?", "Skerry Data")


def _highlights(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Financial highlights")
    pdf.para("Key figures of the group in millions of euros unless stated otherwise.")
    pdf.grid(
        [
            ["Key figure", "2024", "2023", "Change"],
            ["Revenue", "412.6", "371.2", "+11.2%"],
            ["Order intake", "507.3", "398.0", "+27.5%"],
            ["Operating profit (EBIT)", "58.3", "47.9", "+21.7%"],
            ["EBIT margin", "14.1%", "12.9%", "+1.2 pt"],
            ["Net income", "41.9", "33.4", "+25.4%"],
            ["Earnings per share (EUR)", "2.87", "2.29", "+25.3%"],
            ["Dividend per share (EUR)", "1.10", "0.95", "+15.8%"],
            ["Research and development", "39.8", "35.1", "+13.4%"],
            ["Free cash flow", "36.2", "22.7", "+59.5%"],
            ["Employees at year end", "2,140", "1,985", "+7.8%"],
        ],
        widths=(50, 20, 20, 20),
        align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),  # type: ignore[arg-type]
    )
    pdf.para(
        "Revenue of EUR 412.6 million was a record. The EBIT margin improved because of a richer mix of "
        "hydrographic survey systems and higher utilisation in our factories."
    )
    pdf.ask("What was Lumen Harbor's total revenue in 2024?", "EUR 412.6 million")
    pdf.ask("What were earnings per share in 2024?", "2.87")


def _regions(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Revenue by region")
    pdf.para("Revenue 2024 by customer location, EUR million.")
    regions = ["Europe", "N. America", "Asia-Pacific", "Rest of world"]
    pdf.bar_chart(30, pdf.get_y() + 10, 150, 90, regions, [188.4, 121.7, 83.9, 18.6], color=PALETTE[0])
    pdf.para(
        "Europe remained our largest market with EUR 188.4 million. North America grew fastest, by 19 "
        "percent to EUR 121.7 million, driven by port modernisation programmes on the Gulf Coast. "
        "Asia-Pacific contributed EUR 83.9 million and the rest of the world EUR 18.6 million."
    )
    pdf.ask("How much revenue did Lumen Harbor make in North America?", "121.7")


def _quarters(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Quarterly development")
    pdf.para("Revenue and order intake per quarter of 2024, EUR million.")
    pdf.line_chart(
        36,
        pdf.get_y() + 8,
        120,
        80,
        ["Q1", "Q2", "Q3", "Q4"],
        {"Revenue": [94.1, 101.8, 99.5, 117.2], "Order intake": [110.4, 121.9, 118.3, 156.7]},
    )
    pdf.para(
        "The fourth quarter was the strongest, with revenue of EUR 117.2 million and order intake of "
        "EUR 156.7 million, including the largest single order in our history: 38 tide gauges for the "
        "Port of Rotterdam. Revenue dipped in the third quarter to EUR 99.5 million because of the "
        "delayed WS-900 deliveries."
    )
    pdf.ask("What was the largest single order in the company's history?", "38 tide gauges")


def _segments(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Business segments")
    pdf.grid(
        [
            ["Segment", "Revenue 2024", "Revenue 2023", "EBIT margin"],
            ["Marine Sensors", "164.2", "151.0", "15.8%"],
            ["Weather Stations", "96.5", "92.4", "9.7%"],
            ["Hydrographic Survey", "103.8", "84.3", "16.9%"],
            ["Services", "48.1", "43.5", "12.2%"],
            ["Group", "412.6", "371.2", "14.1%"],
        ],
        align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),  # type: ignore[arg-type]
    )
    pdf.subheading("Marine Sensors")
    pdf.para(
        "Conductivity, temperature and depth probes, oxygen optodes and turbidity sensors. The new "
        "CTD-40 probe, rated to 6,000 metres, shipped its first 300 units."
    )
    pdf.subheading("Hydrographic Survey")
    pdf.para(
        "Multibeam echo sounders and survey software. The segment had the highest margin of the group, "
        "16.9 percent, thanks to software licences sold with every system."
    )
    pdf.ask("Which business segment had the highest EBIT margin?", "16.9%")


def _sustainability(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Sustainability")
    pdf.columns(
        [
            "Scope 1 and 2 greenhouse gas emissions fell by 18 percent to 6,420 tonnes of CO2 equivalent, "
            "mainly because 64 percent of the electricity we use now comes from renewable sources, up from "
            "41 percent in 2023.",
            "Sensor housings are now made of 70 percent recycled aluminium. Our take-back programme "
            "collected 4,870 retired instruments from customers; 91 percent of their mass was recycled.",
            "Water use at the Bergen factory fell by a quarter after we installed a closed-loop cooling "
            "system for the pressure test chambers.",
            "Target for 2030: net zero emissions in our own operations and 100 percent renewable "
            "electricity at all sites.",
        ],
        ncols=2,
    )
    pdf.ask("What share of Lumen Harbor's electricity came from renewable sources in 2024?", "64 percent")


def _people(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("People and governance")
    pdf.subheading("Employees by country at year end")
    pdf.grid(
        [
            ["Country", "Employees", "Share of women"],
            ["Norway", "1,020", "31%"],
            ["Denmark", "410", "28%"],
            ["United States", "380", "35%"],
            ["Singapore", "210", "42%"],
            ["Other", "120", "33%"],
        ],
        widths=(60, 30, 30),
    )
    pdf.subheading("Board of Directors")
    pdf.grid(
        [
            ["Name", "Role", "Since"],
            ["Henrik Aasen", "Chair", "2017"],
            ["Ingrid Solberg", "Chief Executive Officer", "2020"],
            ["Maya Okonkwo", "Independent director, chair of the audit committee", "2021"],
            ["Tomas Berglund", "Employee representative", "2022"],
        ],
        widths=(40, 90, 20),
    )
    pdf.ask("Who chairs the audit committee of Lumen Harbor?", "Maya Okonkwo")


def _outlook(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Risks and outlook")
    pdf.subheading("Principal risks")
    pdf.bullets(
        [
            "Supply of electronic components, in particular radiation-hardened microcontrollers.",
            "Currency: 58 percent of revenue is invoiced in currencies other than the Norwegian krone.",
            "Public budgets: a third of our customers are port authorities and research institutes.",
            "Cyber security of the connected weather station fleet.",
        ]
    )
    pdf.subheading("Outlook for 2025")
    pdf.para(
        "For 2025 we expect revenue between EUR 440 million and EUR 460 million and an EBIT margin of "
        "14 to 15 percent. Capital expenditure will be about EUR 30 million, mostly for the second stage "
        "of the Aalborg plant and a new clean room in Bergen."
    )
    pdf.ask("What revenue does Lumen Harbor expect for 2025?", "EUR 440 million and EUR 460 million")


def _income_statement(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Consolidated income statement")
    pdf.para("For the year ended 31 December, EUR thousand.", size=9.5)
    pdf.grid(
        [
            ["Line item", "2024", "2023"],
            ["Revenue", "412,580", "371,214"],
            ["Cost of materials", "(158,902)", "(146,330)"],
            ["Personnel expenses", "(132,417)", "(119,562)"],
            ["Other operating expenses", "(44,305)", "(40,118)"],
            ["Depreciation and amortisation", "(18,644)", "(17,302)"],
            ["Operating profit (EBIT)", "58,312", "47,902"],
            ["Net financial items", "(3,870)", "(4,615)"],
            ["Profit before tax", "54,442", "43,287"],
            ["Income tax", "(12,529)", "(9,901)"],
            ["Net income", "41,913", "33,386"],
        ],
        widths=(70, 30, 30),
        align=("LEFT", "RIGHT", "RIGHT"),  # type: ignore[arg-type]
    )
    pdf.ask("How much income tax did Lumen Harbor pay in 2024?", "(12,529)")
