"""The "a 7 / an 8" wording: one filter for the templates, one helper for the scripts."""

import pytest

from recognizer.templatetags.recognizer_extras import with_article


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (7, "a 7"),
        (8, "an 8"),
        (0, "a 0"),
        (11, "an 11"),
        (18, "an 18"),
        (80, "an 80"),
        (110, "a 110"),
        (800, "an 800"),
        (11_000, "an 11000"),
        (1_800, "a 1800"),
    ],
)
def test_it_puts_the_article_english_needs_before_a_number(number, words):
    assert with_article(number) == words
