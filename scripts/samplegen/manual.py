"""A product manual for a fictional espresso machine: diagram, steps, error-code table (9 pages)."""

from __future__ import annotations

from .kit import MUTED, PALETTE, Sample

PRODUCT = "Brewline K7"


def build() -> Sample:
    pdf = Sample("brewline-k7-espresso-manual.pdf", f"{PRODUCT} Espresso Machine - User Manual")
    _cover(pdf)
    _safety(pdf)
    _parts(pdf)
    _first_use(pdf)
    _espresso(pdf)
    _milk(pdf)
    _cleaning(pdf)
    _troubleshooting(pdf)
    _specs(pdf)
    return pdf


def _cover(pdf: Sample) -> None:
    pdf.add_page()
    pdf.set_y(40)
    pdf.heading(f"{PRODUCT}", size=34)
    pdf.heading("Dual-boiler espresso machine with integrated grinder", size=16, space=10)
    pdf.para("User manual - read carefully before first use and keep for future reference.", size=12)
    pdf.ln(6)
    pdf.subheading("Contents")
    pdf.grid(
        [
            ["Chapter", "Page"],
            ["Safety instructions", "2"],
            ["Parts of the machine", "3"],
            ["Before first use", "4"],
            ["Making espresso", "5"],
            ["Frothing milk", "6"],
            ["Cleaning and descaling", "7"],
            ["Troubleshooting and error codes", "8"],
            ["Technical data and warranty", "9"],
        ],
        widths=(80, 20),
    )


def _safety(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Safety instructions")
    pdf.bullets(
        [
            "Connect the machine only to an earthed socket with the voltage shown on the rating plate.",
            "Never immerse the machine, the power cord or the plug in water or any other liquid.",
            "The steam wand and the brew group become very hot: hold the portafilter by its handle only.",
            "Do not remove the portafilter while the pump is running; hot water under pressure escapes.",
            "Children must not play with the machine. Cleaning must not be done by children under 8.",
            "Unplug the machine before cleaning, when you are away for several days, and if it is faulty.",
            "Use only the descaling solution recommended by Brewline; vinegar damages the seals.",
            "Place the machine on a stable, heat-resistant surface at least 10 cm from the wall.",
        ]
    )
    pdf.ask("How far from the wall should the espresso machine stand?", "at least 10 cm from the wall")


def _parts(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Parts of the machine")
    top = pdf.get_y() + 4
    # A schematic front view: body, bean hopper, group head, steam wand, drip tray, dial.
    pdf.set_draw_color(60, 60, 60)
    pdf.set_line_width(0.5)
    pdf.set_fill_color(235, 235, 235)
    pdf.rect(50, top + 20, 90, 80, style="DF")  # body
    pdf.set_fill_color(200, 170, 130)
    pdf.polyline([(75, top + 20), (80, top), (110, top), (115, top + 20)], polygon=True, style="DF")  # hopper
    pdf.set_fill_color(120, 120, 120)
    pdf.rect(85, top + 55, 20, 8, style="F")  # group head
    pdf.rect(105, top + 60, 22, 4, style="F")  # portafilter handle
    pdf.set_fill_color(*PALETTE[0])
    pdf.rect(42, top + 30, 8, 50, style="F")  # water tank on the side
    pdf.line(130, top + 45, 138, top + 75)  # steam wand
    pdf.set_fill_color(170, 170, 170)
    pdf.rect(55, top + 100, 80, 6, style="F")  # drip tray
    pdf.set_fill_color(*PALETTE[1])
    pdf.circle(65, top + 35, 5, style="F")  # control dial
    callouts = [
        (1, 30, top + 50),
        (2, 120, top + 6),
        (3, 145, top + 70),
        (4, 132, top + 62),
        (5, 140, top + 105),
    ]
    callouts.append((6, 55, top + 26))
    pdf.set_font("Helvetica", "B", 10)
    for number, cx, cy in callouts:
        pdf.set_fill_color(255, 255, 255)
        pdf.circle(cx, cy, 3.5, style="DF")
        pdf.text(cx - 1.3, cy + 1.4, str(number))
    pdf.set_y(top + 118)
    pdf.set_draw_color(*MUTED)
    pdf.set_line_width(0.2)
    pdf.grid(
        [
            ["No.", "Part", "Notes"],
            ["1", "Water tank", "Removable, 1.8 litres, fill with cold fresh water only"],
            ["2", "Bean hopper", "Holds 250 g of whole beans; has a UV-protective lid"],
            ["3", "Steam wand", "Swivels 180 degrees; two-hole tip"],
            ["4", "Portafilter", "58 mm, single and double baskets included"],
            ["5", "Drip tray", "Red float rises when the tray needs emptying"],
            ["6", "Control dial", "Turn to select espresso, hot water or steam; press to start"],
        ],
        widths=(12, 35, 100),
    )
    pdf.ask("How much water does the Brewline K7 water tank hold?", "1.8 litres")


def _first_use(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Before first use")
    pdf.para("Follow these steps once, when the machine is new or after it has been stored for months.")
    steps = [
        "Remove all packaging and the transport lock under the drip tray.",
        "Rinse the water tank, the portafilter and the baskets in warm water with a little detergent.",
        "Fill the water tank up to the MAX mark and put it back until it clicks.",
        "Switch the machine on with the main switch on the back. The dial ring flashes white while heating.",
        "Prime the pump: turn the dial to hot water and let water run through the group for 30 seconds.",
        "Run two shots of water without coffee through the portafilter and discard them.",
        "Set the water hardness with the test strip supplied: press and hold the dial for 5 seconds, "
        "then turn it to the level shown on the strip (1 soft to 4 very hard).",
    ]
    pdf.bullets([f"Step {i}. {text}" for i, text in enumerate(steps, 1)])
    pdf.ask("How long do I prime the pump when using the machine for the first time?", "group for 30 seconds")


def _espresso(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Making espresso")
    pdf.grid(
        [
            ["Setting", "Single shot", "Double shot"],
            ["Grind setting", "5", "5"],
            ["Dose of ground coffee", "9 g", "18 g"],
            ["Yield in the cup", "18-20 ml", "36-40 ml"],
            ["Extraction time", "25-30 seconds", "25-30 seconds"],
            ["Brew pressure", "9 bar", "9 bar"],
            ["Brew temperature", "93 C", "93 C"],
        ],
        widths=(60, 40, 40),
    )
    pdf.para(
        "Grind, tamp evenly with about 15 kg of force, lock the portafilter and press the dial. If the shot "
        "runs faster than 20 seconds, grind finer (lower number); if it takes longer than 35 seconds, grind "
        "coarser. Change the grind setting only while the grinder is running."
    )
    pdf.ask("What dose of ground coffee is used for a double espresso?", "18 g")


def _milk(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Frothing milk")
    pdf.bullets(
        [
            "Turn the dial to the steam symbol. The ring turns blue when steam is ready (about 40 seconds).",
            "Purge the steam wand for 2 seconds into the drip tray to remove condensed water.",
            "Fill a cold stainless steel jug to just below the spout with cold milk.",
            "Hold the tip just under the surface to draw in air until the milk has grown by a third.",
            "Lower the tip to create a whirlpool and stop at 60 to 65 C, when the jug is too hot to touch.",
            "Wipe the wand with a damp cloth straight away and purge it again for 1 second.",
        ]
    )
    pdf.para(
        "Oat and soy drinks labelled barista froth best. Milk heated above 70 C loses its sweetness and "
        "the foam collapses quickly."
    )
    pdf.ask("To what temperature should milk be steamed?", "60 to 65 C")


def _cleaning(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Cleaning and descaling")
    pdf.subheading("Daily")
    pdf.bullets(
        [
            "Empty and rinse the drip tray and the grounds container.",
            "Backflush the group with the blind basket: five cycles of 10 seconds on, 10 seconds off.",
        ]
    )
    pdf.subheading("Descaling")
    pdf.para(
        "Descale the machine every 3 months, or sooner when the orange DESCALE light blinks. Mix 500 ml of "
        "Brewline descaling solution with 1 litre of water in the tank, place a 2 litre container under the "
        "group and the steam wand, then press and hold the dial and the steam button together for 3 "
        "seconds. The program takes about 25 minutes and rinses the circuit twice with fresh water."
    )
    pdf.ask("How often should the Brewline K7 be descaled?", "every 3 months")


def _troubleshooting(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Troubleshooting and error codes")
    pdf.grid(
        [
            ["Code", "Meaning", "What to do"],
            ["E1", "Water tank empty or not seated", "Fill the tank and push it in until it clicks"],
            ["E2", "Boiler overheated", "Switch off and let the machine cool for 20 minutes"],
            ["E3", "Grinder blocked", "Empty the hopper, remove the upper burr and brush it clean"],
            ["E4", "Pump pressure too low", "Grind coarser or descale; call service if it persists"],
            ["E5", "Descaling overdue", "Run the descaling program (page 7)"],
            ["E6", "Temperature sensor fault", "Unplug for 1 minute; call service if it returns"],
        ],
        widths=(15, 55, 80),
    )
    pdf.subheading("No error code but weak coffee?")
    pdf.para("Use beans roasted in the last four weeks, grind finer and check that the dose is correct.")
    pdf.ask("What does error code E3 mean on the espresso machine?", "Grinder blocked")


def _specs(pdf: Sample) -> None:
    pdf.add_page()
    pdf.heading("Technical data and warranty")
    pdf.grid(
        [
            ["Property", "Value"],
            ["Model", "Brewline K7 (BK7-230-EU)"],
            ["Power supply", "220-240 V, 50/60 Hz"],
            ["Power", "1450 W"],
            ["Pump", "Vibration pump, 15 bar maximum"],
            ["Boilers", "Brew 0.45 l, steam 1.0 l, stainless steel"],
            ["Dimensions (W x D x H)", "32 x 38 x 41 cm"],
            ["Weight", "7.4 kg"],
            ["Standby after", "30 minutes without use (adjustable)"],
        ],
        widths=(60, 90),
    )
    pdf.para(
        "Warranty: Brewline grants a 2-year warranty from the date of purchase on material and manufacturing "
        "defects. Wear parts such as gaskets and the burrs are excluded. Service hotline: +44 20 7946 0135, "
        "Monday to Friday 8:00-18:00."
    )
    pdf.ask("What is the phone number of the Brewline service hotline?", "+44 20 7946 0135")
