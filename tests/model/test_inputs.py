import pytest
from PIL import Image

from metaembed_rag.model.inputs import EncoderInput, to_inputs


def test_accepts_strings_images_pairs_dicts_and_page_like_objects():
    image = Image.new("RGB", (8, 6))

    class PageLike:
        text = "page text"
        image = Image.new("RGB", (4, 4))

    items = to_inputs(["hello", image, (image, "caption"), {"text": "t"}, PageLike()])
    assert [i.kind for i in items] == ["text", "image", "image+text", "text", "image+text"]
    assert items[2].text == "caption" and items[2].image is image
    assert to_inputs("single") == [EncoderInput(text="single")]


@pytest.mark.parametrize(
    ("item", "error", "message"),
    [
        ("", ValueError, r"query #0: text is empty"),
        ("   \n", ValueError, r"query #0: text is empty"),
        (None, TypeError, r"query #0: got None"),
        (Image.new("RGB", (0, 0)), ValueError, r"image has zero size \(0x0\)"),
        ((b"not an image", "caption"), TypeError, r"expected a PIL.Image.Image as image, got bytes"),
        (42, TypeError, r"cannot encode a int"),
        ({"other": 1}, ValueError, r"has neither text nor image"),
    ],
)
def test_bad_inputs_name_the_problem(item, error, message):
    with pytest.raises(error, match=message):
        to_inputs([item], "query")


def test_empty_list_and_none_are_rejected():
    with pytest.raises(ValueError, match="documents: the list is empty"):
        to_inputs([], "document")
    with pytest.raises(TypeError, match="got None"):
        to_inputs(None, "document")
