import pytest

from bloodbank.data.segmentation import iter_sentences, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One sentence. Another one! A third?", ["One sentence.", "Another one!", "A third?"]),
        ("Это первое. Это второе.", ["Это первое.", "Это второе."]),
        ("Τι είναι; Είναι καλό.", ["Τι είναι;", "Είναι καλό."]),
        ("Սա առաջինն է։ Սա երկրորդն է։", ["Սա առաջինն է։", "Սա երկրորդն է։"]),
        ("यह पहला है। यह दूसरा है॥ तीसरा", ["यह पहला है।", "यह दूसरा है॥", "तीसरा"]),
        ("这是第一句。这是第二句！第三句？", ["这是第一句。", "这是第二句！", "第三句？"]),
        ("هل هذا صحيح؟ نعم هو كذلك.", ["هل هذا صحيح؟", "نعم هو كذلك."]),
        ("ဒါပထမ။ ဒါဒုတိယ။", ["ဒါပထမ။", "ဒါဒုတိယ။"]),
        ("ይህ አንድ ነው። ይህ ሁለት ነው፧", ["ይህ አንድ ነው።", "ይህ ሁለት ነው፧"]),
        ("یہ پہلا ہے۔ یہ دوسرا ہے۔", ["یہ پہلا ہے۔", "یہ دوسرا ہے۔"]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
    ],
)
def test_terminators_across_scripts(text, expected):
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "J. R. R. Tolkien wrote books.",
        "Dr. Smith arrived at 3.5 p.m. today.",
        "It costs approx. five euros.",
        "See e.g. the appendix.",
    ],
)
def test_false_stops_do_not_split(text):
    assert split_sentences(text) == [text]


def test_lines_always_break_and_short_sentences_are_dropped():
    text = "Heading.\nA real sentence here. Ok.\nNo terminator at all"
    assert list(iter_sentences([text], min_chars=10)) == [
        "A real sentence here.",
        "No terminator at all",
    ]


def test_whitespace_is_normalised():
    assert list(iter_sentences(["  Two   spaces.  Next\tone. "])) == ["Two spaces.", "Next one."]


def test_semicolon_ends_only_greek_sentences():
    assert split_sentences("First part; second part.") == ["First part; second part."]
    assert split_sentences("Τι είναι\u037e Καλό.") == ["Τι είναι\u037e", "Καλό."]
