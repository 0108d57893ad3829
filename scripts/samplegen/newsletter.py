"""A three-column club newsletter: flowing newspaper-style text and a small events table (4 pages)."""

from __future__ import annotations

from .kit import Sample

CLUB = "Willowbrook Garden Club"


def build() -> Sample:
    pdf = Sample("willowbrook-garden-newsletter.pdf", f"{CLUB} - Spring Newsletter 2025")
    pdf.add_page()
    pdf.heading(f"{CLUB}", size=26, space=1)
    pdf.heading("Spring Newsletter 2025 - Issue 58", size=13, space=6)
    pdf.columns(
        [
            "A word from the chair. After the wettest winter since records began in our valley, the "
            "allotments on Mill Lane are finally drying out. Thank you to everyone who helped to dig the new "
            "drainage ditch along the east fence in February: twenty-three members turned up on a cold "
            "Saturday and finished it in one day.",
            "Seed swap. Our annual seed swap takes place on Saturday 12 April from 10:00 to 13:00 in the "
            "Willowbrook village hall. Bring seeds in labelled envelopes: variety, year of harvest and your "
            "name. Tea and cake are served by the Wednesday group; entry is free for members and EUR 2 for "
            "visitors.",
            "New members. We welcome eleven new members this spring, which brings the club to 146 members. "
            "New plot holders receive a starter kit with a spade, a watering can and a copy of the "
            "plot rules.",
            "Plot inspections. The committee will walk the allotments on the first Sunday of every "
            "month from "
            "May to September. Plots that are less than half cultivated receive a friendly reminder first.",
            "Water. The two rainwater tanks by the shed hold 3,000 litres each. Please use watering "
            "cans, not "
            "hoses, and close the taps after use.",
        ],
        ncols=3,
        size=9.5,
    )
    pdf.ask("When is the Willowbrook garden club seed swap?", "Saturday 12 April")

    pdf.add_page()
    pdf.heading("Growing tomatoes in a cold greenhouse", size=16)
    pdf.columns(
        [
            "Sow tomatoes indoors in mid-March on a warm windowsill, 1 cm deep, and prick the seedlings out "
            "into 9 cm pots when they have their first true leaves. Move them to the unheated "
            "greenhouse only "
            "after the middle of May, when night temperatures stay above 10 C.",
            "Cordon varieties such as Gardener's Delight need a cane and weekly side-shoot pinching. Bush "
            "varieties need neither. Water little and often and feed with a high-potash liquid feed every "
            "ten days once the first truss has set.",
            "Blight is the great enemy in wet summers. Keep the leaves dry, water at the base in the morning "
            "and remove the lowest leaves once the fruit above them has formed. Blight-resistant varieties "
            "such as Crimson Crush are worth the extra cost.",
            "Club member Doreen Pike won the county show last year with a 1.3 kg beefsteak tomato, "
            "grown in a "
            "bucket of homemade compost. She will share her secrets at the June meeting.",
        ],
        ncols=3,
        size=9.5,
    )
    pdf.ask("When should tomato plants move into an unheated greenhouse?", "after the middle of May")

    pdf.add_page()
    pdf.heading("Composting corner: the three-bay system", size=16)
    pdf.columns(
        [
            "Our new three-bay compost system behind the shed is now in use. Bay one receives fresh "
            "material, "
            "bay two is turned once a month, and bay three holds finished compost for members to take.",
            "Mix roughly equal volumes of greens (grass clippings, vegetable peelings) and browns "
            "(cardboard, "
            "straw, dry leaves). Never add cooked food, meat, dairy or diseased plants.",
            "A well-made heap reaches 60 C in its first week. Use the long thermometer hanging in "
            "the shed and "
            "note the temperature on the clipboard, so we can learn which mixtures work best.",
            "Finished compost is dark and crumbly and smells of forest floor; it takes about nine months in "
            "our system. Please take no more than two barrows per plot per season.",
        ],
        ncols=3,
        size=9.5,
    )
    pdf.ask("How many barrows of finished compost may each plot take per season?", "two barrows per plot")

    pdf.add_page()
    pdf.heading("Dates for your diary", size=16)
    pdf.grid(
        [
            ["Date", "Event", "Place"],
            ["Sat 12 April", "Seed swap", "Village hall, 10:00-13:00"],
            ["Sun 4 May", "First plot inspection", "Mill Lane allotments"],
            ["Wed 21 May", "Talk: pollinator-friendly borders", "Village hall, 19:30"],
            ["Sat 14 June", "Summer meeting and tomato talk", "Mill Lane, by the shed"],
            ["Sat 26 July", "Open gardens afternoon", "Five members' gardens"],
            ["Sat 13 September", "Harvest show", "Village hall, entries by 10:00"],
        ],
        widths=(35, 70, 55),
    )
    pdf.para(
        "Annual subscription: EUR 18 per household, due on 1 April. Pay the treasurer, Raj Malhotra, in cash "
        "at any meeting or by bank transfer, quoting your plot number."
    )
    pdf.ask("How much is the Willowbrook garden club annual subscription?", "EUR 18 per household")
    return pdf
