"""A seasonal recipe booklet: one recipe per page, ingredients beside the method (9 pages)."""

from __future__ import annotations

from dataclasses import dataclass

from .kit import PALETTE, Sample


@dataclass(frozen=True)
class Recipe:
    name: str
    serves: int
    minutes: int
    intro: str
    ingredients: tuple[str, ...]
    method: tuple[str, ...]
    query: tuple[str, str] | None = None  # (question, answer printed on the page)


RECIPES = (
    Recipe(
        "Roasted pumpkin soup with sage",
        4,
        55,
        "A velvety autumn soup; roasting the pumpkin first gives it a deep, caramel flavour.",
        (
            "1.2 kg pumpkin, peeled and cubed",
            "1 onion",
            "2 garlic cloves",
            "900 ml vegetable stock",
            "100 ml single cream",
            "8 sage leaves",
            "2 tbsp olive oil",
            "nutmeg, salt, pepper",
        ),
        (
            "Heat the oven to 200 C. Toss the pumpkin with oil and roast for 35 minutes until browned.",
            "Soften the onion and garlic in a large pan, add the pumpkin and the stock, simmer 10 minutes.",
            "Blend until smooth, stir in the cream and season with nutmeg.",
            "Fry the sage leaves in hot oil for 20 seconds until crisp and scatter over the bowls.",
        ),
        ("At what oven temperature is the pumpkin for the soup roasted?", "Heat the oven to 200 C"),
    ),
    Recipe(
        "Lentil shepherd's pie",
        6,
        75,
        "A meat-free classic: green lentils and mushrooms under a crust of mashed potato and celeriac.",
        (
            "300 g green lentils",
            "250 g chestnut mushrooms",
            "2 carrots",
            "1 celery stick",
            "2 tbsp tomato puree",
            "1 kg floury potatoes",
            "400 g celeriac",
            "60 g butter",
            "thyme",
        ),
        (
            "Simmer the lentils in unsalted water for 25 minutes, then drain.",
            "Fry the diced carrot, celery and mushrooms, add tomato puree, thyme and the lentils.",
            "Boil the potatoes and celeriac together and mash with the butter.",
            "Spread the filling in a dish, top with the mash and bake at 190 C for 30 minutes.",
        ),
        ("What is mixed with the potatoes for the shepherd's pie topping?", "celeriac"),
    ),
    Recipe(
        "Beetroot and goat cheese salad",
        4,
        20,
        "Earthy beetroot, tangy cheese and toasted walnuts with a honey-mustard dressing.",
        (
            "4 cooked beetroots",
            "150 g soft goat cheese",
            "60 g walnuts",
            "100 g rocket",
            "1 tbsp honey",
            "1 tsp Dijon mustard",
            "3 tbsp walnut oil",
            "1 tbsp cider vinegar",
        ),
        (
            "Toast the walnuts in a dry pan for 3 minutes.",
            "Whisk honey, mustard, oil and vinegar into a dressing.",
            "Slice the beetroot, arrange on the rocket, crumble the goat cheese over and add the nuts.",
            "Dress just before serving.",
        ),
        None,
    ),
    Recipe(
        "Wild mushroom risotto",
        4,
        40,
        "Creamy, never stodgy: add the stock a ladle at a time and keep stirring.",
        (
            "320 g arborio rice",
            "400 g mixed wild mushrooms",
            "20 g dried porcini",
            "1.2 l hot stock",
            "1 shallot",
            "125 ml dry white wine",
            "50 g parmesan",
            "40 g butter",
        ),
        (
            "Soak the porcini in 200 ml boiling water for 15 minutes; keep the soaking water.",
            "Sweat the shallot, add the rice and toast for 2 minutes, then pour in the wine.",
            "Add the stock and porcini water a ladle at a time; the rice cooks in 18 minutes.",
            "Fry the fresh mushrooms separately, fold them in with the butter and parmesan, rest 2 minutes.",
        ),
        ("How long does the rice for the mushroom risotto cook?", "cooks in 18 minutes"),
    ),
    Recipe(
        "Apple and blackberry crumble",
        6,
        60,
        "The taste of late summer; oats in the topping make it extra crunchy.",
        (
            "800 g cooking apples",
            "300 g blackberries",
            "60 g brown sugar",
            "1 tsp cinnamon",
            "150 g plain flour",
            "100 g cold butter",
            "50 g rolled oats",
            "75 g demerara sugar",
        ),
        (
            "Peel, core and slice the apples; mix with the blackberries, sugar and cinnamon in a dish.",
            "Rub the butter into the flour until it looks like breadcrumbs, stir in oats and demerara.",
            "Scatter the crumble over the fruit without pressing it down.",
            "Bake at 180 C for 40 minutes until golden and bubbling. Serve with custard.",
        ),
        ("How long and at what temperature is the apple crumble baked?", "180 C for 40 minutes"),
    ),
    Recipe(
        "Chickpea and spinach curry",
        4,
        35,
        "A weeknight curry from the store cupboard, ready in about half an hour.",
        (
            "2 tins chickpeas (800 g)",
            "400 ml coconut milk",
            "200 g spinach",
            "1 tin chopped tomatoes",
            "1 onion",
            "thumb of ginger",
            "2 tsp garam masala",
            "1 tsp turmeric",
            "lime, coriander",
        ),
        (
            "Fry the onion and grated ginger until soft, add the spices for 1 minute.",
            "Add tomatoes, coconut milk and drained chickpeas; simmer for 15 minutes.",
            "Stir in the spinach until wilted, finish with lime juice.",
            "Serve with basmati rice or flatbread and fresh coriander.",
        ),
        ("Which spices go into the chickpea curry?", "garam masala"),
    ),
    Recipe(
        "Buckwheat pancakes with blueberries",
        4,
        25,
        "Naturally gluten-free pancakes with a nutty taste; the batter rests while the pan heats.",
        (
            "150 g buckwheat flour",
            "1 tsp baking powder",
            "1 egg",
            "250 ml buttermilk",
            "1 tbsp maple syrup",
            "150 g blueberries",
            "butter for frying",
        ),
        (
            "Whisk flour, baking powder, egg, buttermilk and syrup into a thick batter; rest 10 minutes.",
            "Heat a little butter in a frying pan over medium heat.",
            "Drop in spoonfuls of batter, scatter blueberries on top, cook 2 minutes per side.",
            "Keep warm in a low oven while you cook the rest.",
        ),
        ("Which flour makes the pancakes gluten-free?", "buckwheat flour"),
    ),
    Recipe(
        "Spiced pear chutney",
        12,
        90,
        "Makes three 350 ml jars. Keeps for a year unopened; serve with cheese or cold meats.",
        (
            "1.5 kg firm pears",
            "2 red onions",
            "200 g raisins",
            "350 g light brown sugar",
            "400 ml cider vinegar",
            "1 tbsp mustard seeds",
            "1 tsp ground ginger",
            "4 cloves",
        ),
        (
            "Peel and dice the pears and onions.",
            "Put everything into a heavy pan, bring to the boil, stirring until the sugar dissolves.",
            "Simmer uncovered for 75 minutes, stirring often, until thick and jammy.",
            "Pot into sterilised jars while hot and seal. Leave for a month before opening.",
        ),
        ("How long should the pear chutney mature before opening?", "Leave for a month"),
    ),
)


def build() -> Sample:
    pdf = Sample("harvest-table-recipes.pdf", "Harvest Table - Seasonal Recipes from the Valley Kitchen")
    pdf.add_page()
    pdf.set_y(60)
    pdf.heading("Harvest Table", size=36)
    pdf.heading("Seasonal recipes from the Valley Kitchen cookery school", size=16, space=12)
    pdf.para(
        "Eight recipes for autumn and winter, tested in our kitchen in Millbrook. Oven temperatures are "
        "for conventional ovens; lower them by 20 degrees for fan ovens.",
        size=12,
    )
    for number, recipe in enumerate(RECIPES, 2):
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(0, 6, f"{recipe.name} .... page {number}", new_x="LMARGIN", new_y="NEXT")
    for recipe in RECIPES:
        _recipe_page(pdf, recipe)
    return pdf


def _recipe_page(pdf: Sample, recipe: Recipe) -> None:
    pdf.add_page()
    pdf.heading(recipe.name, size=20)
    pdf.set_font("Helvetica", "I", 10)
    pdf.cell(
        0, 6, f"Serves {recipe.serves}  |  Ready in {recipe.minutes} minutes", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.ln(2)
    pdf.para(recipe.intro)
    top = pdf.get_y() + 2
    # Left column: ingredients on a tinted panel.
    pdf.set_fill_color(*[min(255, c + 170) for c in PALETTE[2]])
    pdf.rect(pdf.l_margin, top, 58, 8 + 6.2 * len(recipe.ingredients), style="F")
    pdf.set_xy(pdf.l_margin + 3, top + 3)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(52, 6, "Ingredients", new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9.5)
    for item in recipe.ingredients:
        pdf.multi_cell(52, 5, item, align="L", new_x="LEFT", new_y="NEXT")
        pdf.set_y(pdf.get_y() + 1.2)
    # Right column: numbered method.
    left = pdf.l_margin + 64
    pdf.set_xy(left, top + 3)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, "Method", new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for i, step in enumerate(recipe.method, 1):
        pdf.set_x(left)
        pdf.multi_cell(
            pdf.w - pdf.r_margin - left, 5.2, f"{i}. {step}", align="L", new_x="LEFT", new_y="NEXT"
        )
        pdf.set_y(pdf.get_y() + 2)
    if recipe.query is not None:
        pdf.ask(*recipe.query)
